using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// l1-sparse (Jia et al., "Model Sparsity Can Simplify Machine Unlearning", NeurIPS 2023, arXiv 2304.04934;
/// github.com/OPTML-Group/Unlearn-Sparse, unlearn/FT.py FT_iter with_l1, run as --unlearn FT_prune): FT on the retain set
/// with the penalty alpha_e ||theta||_1 over every parameter, alpha_e = alpha (1 - e / E) in epoch e of E (decaying
/// linearly towards 0; the repository's no_l1_epochs taken as 0). Defaults: lr 0.01 and 10 epochs (README, l1-sparse line),
/// batch 256, SGD momentum 0.9, weight decay 5e-4, MultiStepLR([91, 136], 0.1) (arg_parser.py: batch_size, momentum,
/// weight_decay, decreasing_lr; unlearn/impl.py: gamma 0.1), seed 2 (arg_parser.py), shuffled (main_forget.py), crop-flip
/// (dataset.py). --l1-alpha: the README leaves it to the user (--alpha ${alpha}; the parser's 0.2 is Fisher forgetting's
/// noise); 1e-4 is what published CIFAR-10 scripts running its FT_prune pass.
/// </summary>
public sealed class L1Sparse : UnlearningMethod
{
    public override string Name => "l1-sparse";
    public override string OptionName => "l1sparse";
    public override string Summary => "fine-tune on the retain set with an l1 penalty decaying linearly to 0";
    public override string Source => "Unlearn-Sparse (NeurIPS 2023), github.com/OPTML-Group/Unlearn-Sparse: unlearn/FT.py (penalty, decay), unlearn/impl.py (SGD, MultiStepLR gamma 0.1), arg_parser.py (batch 256, momentum, weight decay, milestones 91,136, seed 2), README (lr 0.01, 10 epochs)";
    public override bool NeedsForget => false;

    public override MethodSettings Defaults => new()
    {
        Method = this, Epochs = 10, LearningRate = 0.01, BatchSize = 256, Momentum = 0.9f, WeightDecay = 5e-4f, Nesterov = false, Clip = 0,
        Seed = 2, Shuffle = true, Augment = true,
    };

    public override IReadOnlyList<MethodParameter> Parameters { get; } =
    [
        MethodParameter.NonNegative("--l1-alpha", 1e-4, "weight of the l1 penalty in the first epoch, alpha_e = alpha (1 - e / epochs)"),
    ];

    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.MultiStep([91, 136], 0.1);

    /// <summary>The penalty weight of epoch <paramref name="epoch"/> (0-based): alpha (1 - e / E), in double, rounded once.</summary>
    public static float AlphaAt(MethodSettings s, int epoch) => (float)(s["--l1-alpha"] * (1 - (double)epoch / s.Epochs));

    public override void Run(MethodLoop loop) => loop.Epochs(e =>
    {
        var loss = BatchLoss.Descent with { L1 = AlphaAt(loop.Settings, e) };
        return [new Pass(loop.Retain, (b, _, u) => loop.Step.Step(b, loss, u, cancel: loop.Cancel), "retain")];
    });
}
