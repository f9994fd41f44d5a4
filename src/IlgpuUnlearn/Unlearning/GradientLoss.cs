namespace IlgpuUnlearn.Unlearning;

/// <summary>The loss whose gradient <see cref="TrainingStep.BatchGradient"/> measures.</summary>
public enum GradientLoss
{
    /// <summary>The batch's mean negative log-likelihood of its labels (cross-entropy).</summary>
    MeanNll,
    /// <summary>The batch's mean squared L2 norm of the logits, label-free (LFSSD, arXiv 2402.19308).</summary>
    MeanSquaredLogitNorm,
}
