namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// GA (Machine Unlearning Comparator, backend/app/threads/unlearn_GA_thread.py): per epoch, ascent on the NLL of each batch of
/// the forget set (loss -NLL), clipped to MAX_GRAD_NORM 100. Defaults: 7 epochs, lr 1e-4, batch 256 (<see cref="Comparator"/>).
/// </summary>
public sealed class GradientAscent : UnlearningMethod
{
    public override string Name => "GA";
    public override string Summary => "gradient ascent on the forget set";
    public override string Source => Comparator.Source("GA");
    public override bool NeedsRetain => false;
    public override MethodSettings Defaults => Comparator.Settings(this, epochs: 7, lr: 1e-4, batch: 256, clip: 100);

    public override void Run(MethodLoop loop) =>
        loop.Epochs(e => [new Pass(loop.Forget, (b, _, u) => loop.Step.Step(b, BatchLoss.Ascent, u, cancel: loop.Cancel), "forget")]);
}
