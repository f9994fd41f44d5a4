namespace IlgpuUnlearn.Tensors;

/// <summary>
/// One SGD update, the only optimiser settings type: torch.optim.SGD's (learning rate, momentum, weight decay on every
/// parameter, Nesterov or plain momentum) after global-norm clipping to <see cref="Clip"/> as torch.nn.utils.clip_grad_norm_
/// does (0: none). Every method and <c>train</c> hand one per epoch to <see cref="IOps.ClipAndSgdStep"/>, whose CPU loop and
/// ILGPU kernel (kernels/IlgpuUnlearn.Kernels/OptimizerKernels.cs, whose argument struct SgdStep carries these fields and the first-step flag) apply it.
/// </summary>
public readonly record struct SgdUpdate(float LearningRate, float Momentum, float WeightDecay, bool Nesterov, float Clip)
{
    /// <summary>Throws ArgumentException naming the command-line option that is out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(float.IsFinite(LearningRate) && LearningRate > 0, $"--lr must be > 0, got {LearningRate}");
        Check(float.IsFinite(Momentum) && Momentum >= 0 && Momentum < 1, $"--momentum must be in [0, 1), got {Momentum}");
        Check(float.IsFinite(WeightDecay) && WeightDecay >= 0, $"--weight-decay must be >= 0, got {WeightDecay}");
        Check(!Nesterov || Momentum > 0, "Nesterov momentum needs --momentum > 0");
        Check(float.IsFinite(Clip) && Clip >= 0, $"--clip must be >= 0 (0 turns clipping off), got {Clip}");
    }
}
