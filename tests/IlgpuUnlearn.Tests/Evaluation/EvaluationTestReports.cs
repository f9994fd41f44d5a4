using IlgpuUnlearn.Evaluation;

namespace IlgpuUnlearn.Tests.Evaluation;

/// <summary>Hand-made logits with hand-computed answers, over three classes.</summary>
internal static class EvaluationTestReports
{
    public static readonly string[] Names = ["cat", "dog", "T-shirt/top & <more>"];

    // Sample: label, logits. Predictions: 0, 1, 0, 2, 2, 1.
    public static readonly int[] Labels = [0, 0, 1, 1, 2, 2];
    public static readonly float[] Logits =
    [
        2, 0, 0,      // true 0, predicted 0
        0, 1, 0,      // true 0, predicted 1
        3, 1, 1,      // true 1, predicted 0
        0, 0, 5,      // true 1, predicted 2
        0, 0, 0.5f,   // true 2, predicted 2
        100, 200, 0,  // true 2, predicted 1: loss 200 exactly, in double
    ];

    public static UnlearningReport Report(int forgetClass = 0) => UnlearningReport.Compute(Labels, Logits, forgetClass, Names);

    /// <summary>-log_softmax(z)[y] the long way.</summary>
    public static double Nll(double[] z, int y) => -Math.Log(Math.Exp(z[y]) / z.Sum(Math.Exp));
}
