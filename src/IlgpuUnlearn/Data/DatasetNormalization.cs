namespace IlgpuUnlearn.Data;

/// <summary>
/// Per-channel normalisation applied after scaling pixels to [0,1]: x = (p / 255 - mean[c]) / std[c].
/// The base model was trained with CIFAR-10's values; Fashion-MNIST and the synthetic set use the same ones
/// so that one network and one code path serve every dataset.
/// </summary>
public static class DatasetNormalization
{
    private static readonly float[] CifarMeanValues = [0.4914f, 0.4822f, 0.4465f];
    private static readonly float[] CifarStdValues = [0.2023f, 0.1994f, 0.2010f];

    /// <summary>(R, G, B) mean of CIFAR-10's training set.</summary>
    public static ReadOnlySpan<float> CifarMean => CifarMeanValues;

    /// <summary>(R, G, B) standard deviation used by the base model's training.</summary>
    public static ReadOnlySpan<float> CifarStd => CifarStdValues;
}
