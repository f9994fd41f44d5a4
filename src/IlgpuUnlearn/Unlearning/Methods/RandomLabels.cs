namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// RL (Machine Unlearning Comparator, backend/app/threads/unlearn_RL_thread.py): per epoch, descent on the NLL of each batch of
/// the retain and forget sets together (one set, shuffled together), every image of the forget class in a batch relabelled with
/// a class drawn uniformly from the other classes. Defaults: 3 epochs, lr 1e-3, batch 64, no clipping (<see cref="Comparator"/>).
/// Deviation: the Comparator draws the labels from a clock-seeded generator; here they come from the seed.
/// </summary>
public sealed class RandomLabels : UnlearningMethod
{
    public override string Name => "RL";
    public override string Summary => "random labels for the forget set";
    public override string Source => Comparator.Source("RL");

    protected override IEnumerable<string> OwnDraws => ["random forget labels"];
    public override MethodSettings Defaults => Comparator.Settings(this, epochs: 3, lr: 1e-3, batch: 64, clip: 0);

    public override void Run(MethodLoop loop) =>
        loop.Epochs(e => [new Pass([.. loop.Retain, .. loop.Forget], (b, _, u) => loop.Step.Step(b, BatchLoss.Descent, u, cancel: loop.Cancel),
            "retain+forget", Relabel.ForgetClassOnly)]);
}
