using System.Globalization;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// SSD, Selective Synaptic Dampening (Foster, Schoepf and Brintrup, AAAI 2024; github.com/if-loops/selective-synaptic-dampening):
/// no training; importances of the forget set and of the whole training set in evaluation mode, then every parameter much more
/// important to the forget set dampened (<see cref="SynapticDampening"/>). Defaults from src/forget_full_class_main.py:
/// selection_weighting (alpha) 10, dampening_constant (lambda) 1, batch 64 (<c>-b</c>); the loaders keep file order and do not
/// augment. It takes no optimiser step: the optimiser's options are refused (<see cref="UnlearningMethod.StepOptions"/>).
/// </summary>
public sealed class Ssd : UnlearningMethod
{
    public const string Repository = "github.com/if-loops/selective-synaptic-dampening";

    public override string Name => "SSD";
    public override string Summary => "no training: dampen the parameters far more important to the forget set than to the whole training set";
    public override string Source => $"Foster et al., AAAI 2024; {Repository}: src/ssd.py, src/forget_full_class_strategies.py (ssd_tuning), " +
                                      "src/forget_full_class_main.py (alpha 10, lambda 1, batch 64)";
    public override MethodSettings Defaults => SynapticDefaults(this);

    public override bool TakesOptimizerStep => false;

    /// <summary>Its importances sum over every forget and training image in file order: nothing is drawn from the seed.</summary>
    protected override bool ReadsSeededBatches => false;

    public override IReadOnlyList<MethodParameter> Parameters { get; } = SynapticParameters();

    public override string Describe(MethodSettings s) => SynapticDescription(s, "squared gradients of the mean cross-entropy");

    public override void Run(MethodLoop loop) => SynapticRun(loop, labelFree: false);

    /// <summary>What SSD and LFSSD share: no epochs of training, batch 64, file order, no augmentation, the source's seed-free loaders.</summary>
    internal static MethodSettings SynapticDefaults(UnlearningMethod method) => new()
    {
        Method = method, Epochs = 1, BatchSize = 64, LearningRate = 0.1, Momentum = 0f, WeightDecay = 0f, Clip = 0f,
        Seed = 0, Shuffle = false, Augment = false,
    };

    internal static IReadOnlyList<MethodParameter> SynapticParameters() =>
    [
        MethodParameter.Positive("--ssd-alpha", 10, "selection weighting: a parameter is dampened where its forget importance exceeds alpha times its full importance"),
        MethodParameter.Positive("--ssd-lambda", 1, "dampening constant: a selected parameter is multiplied by min(1, lambda full importance / forget importance)"),
    ];

    internal static string SynapticDescription(MethodSettings s, string importance) => string.Create(CultureInfo.InvariantCulture,
        $"no training; importances ({importance}, evaluation mode) over batches of {s.BatchSize} of the forget set and of the retain " +
        $"then forget set, alpha {s["--ssd-alpha"]:R}, lambda {s["--ssd-lambda"]:R}");

    internal static void SynapticRun(MethodLoop loop, bool labelFree)
    {
        var s = loop.Settings;
        var outcome = SynapticDampening.Run(loop.Step, loop.Train, loop.ForgetClass, (float)s["--ssd-alpha"], (float)s["--ssd-lambda"],
            s.BatchSize, labelFree, loop.Cancel);
        loop.Note(SynapticDampening.Describe(outcome, (float)s["--ssd-alpha"], loop.Forget.Length, loop.Train.Count));
        // Forget set, then retain and forget set: images forwarded and backpropagated, no steps.
        loop.CountMeasured(loop.Forget.Length + (long)loop.Train.Count);
    }
}
