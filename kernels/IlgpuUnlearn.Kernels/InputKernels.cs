using ILGPU;

namespace IlgpuUnlearn.Kernels;

/// <summary>From the uint8 batch on the device to the normalised float input of the network.</summary>
public static class InputKernels
{
    /// <summary>
    /// One thread per element of x (N, C, H, W), C = norm.Channels (1 or 3):
    /// x[n, c, i, j] = (pixels[n, c, i', j'] / 255 - mean[c]) / std[c], with pixels (N, C, H, W) bytes.
    /// Without augmentation i' = i, j' = j. With it, augment (N, 3) holds (shiftY, shiftX, flip) per image:
    /// the crop of the image zero-padded by pad starting at (shiftY, shiftX), flipped horizontally when flip != 0,
    /// so j'' = flip ? W - 1 - j : j, i' = i + shiftY - pad, j' = j'' + shiftX - pad, and the pixel is 0 outside the image.
    /// </summary>
    public static void LoadImages(Index1D index, ArrayView<byte> pixels, ArrayView<int> augment, int augmented,
        int height, int width, int pad, ChannelNormalisation norm, ArrayView<float> x)
    {
        int e = ElementIndex.Of(index);
        int j = e % width;
        int rest = e / width;
        int i = rest % height;
        int nc = rest / height;          // n * C + c
        int n = nc / norm.Channels, c = nc - n * norm.Channels;

        int si = i, sj = j;
        if (augmented != 0)
        {
            int shiftY = augment[n * 3], shiftX = augment[n * 3 + 1], flip = augment[n * 3 + 2];
            if (flip != 0)
                sj = width - 1 - j;
            si = i + shiftY - pad;
            sj = sj + shiftX - pad;
        }

        float value = 0f;
        if (si >= 0 && si < height && sj >= 0 && sj < width)
            value = pixels[(nc * height + si) * width + sj];
        x[e] = norm.Apply(c, value / 255f);
    }
}

/// <summary>
/// Per-channel (v - mean[c]) / std[c] for images of 1 (grey) or 3 (colour) channels, as a kernel argument;
/// a grey image uses channel 0's values only.
/// </summary>
public readonly struct ChannelNormalisation
{
    public ChannelNormalisation(int channels, float mean0, float mean1, float mean2, float std0, float std1, float std2)
    {
        Channels = channels;
        Mean0 = mean0; Mean1 = mean1; Mean2 = mean2;
        Std0 = std0; Std1 = std1; Std2 = std2;
    }

    /// <summary>Channels per image: 1 or 3.</summary>
    public int Channels { get; }

    public float Mean0 { get; }
    public float Mean1 { get; }
    public float Mean2 { get; }
    public float Std0 { get; }
    public float Std1 { get; }
    public float Std2 { get; }

    public float Apply(int channel, float v)
        => channel == 0 ? (v - Mean0) / Std0 : channel == 1 ? (v - Mean1) / Std1 : (v - Mean2) / Std2;
}
