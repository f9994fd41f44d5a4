namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// LFSSD, label-free SSD (Foster, Schoepf and Brintrup, "Loss-Free Machine Unlearning", ICLR 2024 Tiny Paper, arXiv 2402.19308;
/// the README of github.com/if-loops/selective-synaptic-dampening): <see cref="Ssd"/> with the importance of each batch the
/// absolute gradient of the mean squared L2 norm of the logits, no labels (<see cref="SynapticDampening"/>). Same defaults as SSD.
/// </summary>
public sealed class Lfssd : UnlearningMethod
{
    public override string Name => "LFSSD";
    public override string Summary => "SSD with label-free importances (the gradient of the squared logit norm)";
    public override string Source => $"Foster et al., arXiv 2402.19308; {Ssd.Repository}: README (LFSSD), src/ssd.py, src/forget_full_class_main.py (alpha 10, lambda 1, batch 64)";
    public override MethodSettings Defaults => Ssd.SynapticDefaults(this);

    public override bool TakesOptimizerStep => false;

    protected override bool ReadsSeededBatches => false;

    public override IReadOnlyList<MethodParameter> Parameters { get; } = Ssd.SynapticParameters();

    public override string Describe(MethodSettings s) => Ssd.SynapticDescription(s, "absolute gradients of the mean squared logit norm, no labels");

    public override void Run(MethodLoop loop) => Ssd.SynapticRun(loop, labelFree: true);
}
