namespace IlgpuUnlearn.Model;

/// <summary>How every BatchNorm of a <see cref="ResNet18.Forward(int, BatchNormMode, CancellationToken)"/> normalises.</summary>
public enum BatchNormMode
{
    /// <summary>
    /// PyTorch's <c>model.train()</c>: batch statistics, running statistics updated (and num_batches_tracked counted), the
    /// batch statistics saved for <see cref="ResNet18.Backward"/>.
    /// </summary>
    Training,

    /// <summary>PyTorch's <c>model.eval()</c> for inference: running statistics, nothing updated, nothing kept for a backward pass.</summary>
    Evaluation,

    /// <summary>
    /// PyTorch's <c>model.eval()</c> followed by <c>loss.backward()</c> (SalUn's saliency, SCRUB's Fisher information, SSD's
    /// importances): running statistics as fixed statistics, nothing updated, so each BatchNorm is the affine map
    /// y = gamma (x - mu_run) / sqrt(var_run + eps) + beta and <see cref="ResNet18.Backward"/> differentiates that map
    /// (dx = dy gamma / sqrt(var_run + eps); no batch-statistics terms).
    /// </summary>
    EvaluationWithGradients,
}
