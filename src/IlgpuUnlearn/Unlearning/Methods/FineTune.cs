using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// FT (Machine Unlearning Comparator, github.com/gnueaj/Machine-Unlearning-Comparator, backend/app/threads/unlearn_FT_thread.py):
/// per epoch, descent on the NLL of each batch of the retain set. Defaults (<see cref="Comparator"/>): 10 epochs, lr 0.01,
/// batch 128 (frontend/src/utils/config/unlearning.ts), no clipping, CosineAnnealingLR(T_max = epochs, eta_min = 0.01)
/// (services/unlearn_FT.py; with lr 0.01 the rate stays 0.01).
/// </summary>
public sealed class FineTune : UnlearningMethod
{
    public override string Name => "FT";
    public override string Summary => "fine-tune on the retain set";
    public override string Source => Comparator.Source("FT");
    public override bool NeedsForget => false;
    public override MethodSettings Defaults => Comparator.Settings(this, epochs: 10, lr: 0.01, batch: 128, clip: 0);
    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.Cosine(epochs, 0.01);

    public override void Run(MethodLoop loop) =>
        loop.Epochs(e => [new Pass(loop.Retain, (b, _, u) => loop.Step.Step(b, BatchLoss.Descent, u, cancel: loop.Cancel), "retain")]);
}
