using IlgpuUnlearn.Model;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// CF-k, catastrophic forgetting of the last k (Goel et al., "Towards Adversarial Evaluation of Machine Unlearning",
/// arXiv 2201.06640; github.com/shash42/Evaluating-Inexact-Unlearning, src/methods.py cat_forget_finetune): fine-tune only the
/// last k stages (layer4, then layer3 ...) and fc on the retain set, every earlier parameter frozen as requires_grad = False
/// freezes it (no update, no weight decay, no momentum; <see cref="TrainingStep.FirstTrainable"/>: these are a suffix of the
/// state-dict order). --train-last K counts stages (0: fc only); Goel et al. count conv and linear layers from the end.
/// Frozen layers are not cached: every step runs the whole forward and backward (as fine-tuning everything costs), since
/// with crop-flip on the frozen features change per step anyway. Defaults: the sibling card Yurim0507/CF-k of the same base
/// model (SGD lr 0.1, momentum 0.9, weight decay 5e-4, Nesterov; cosine T_max 200; 62 epochs; batch 64; k not stated: 1
/// here), crop-flip as the base model's training, seed 0.
/// </summary>
public sealed class CfK : UnlearningMethod
{
    public override string Name => "CF-k";
    public override string OptionName => "cfk";
    public override string Summary => "fine-tune the last k stages and fc on the retain set, the rest frozen";
    public override string Source => "Goel et al. (arXiv 2201.06640), github.com/shash42/Evaluating-Inexact-Unlearning src/methods.py; defaults from the model card Yurim0507/CF-k (SGD lr 0.1 Nesterov, cosine 200, 62 epochs, batch 64)";
    public override bool NeedsForget => false;

    public override MethodSettings Defaults => CardSettings(this);

    public override IReadOnlyList<MethodParameter> Parameters { get; } = [TrainLast];

    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.Cosine(200);

    /// <summary>--train-last K, shared with EU-k.</summary>
    public static readonly MethodParameter TrainLast = new("--train-last", 1,
        "stages trained, counted from the end (1: layer4 and fc; 0: fc only); the others are frozen", "a whole number in [0, 4]", v => v is >= 0 and <= 4, Whole: true);

    /// <summary>The card's settings, for CF-k and EU-k.</summary>
    public static MethodSettings CardSettings(UnlearningMethod method) => new()
    {
        Method = method, Epochs = 62, BatchSize = 64, LearningRate = 0.1, Momentum = 0.9f, WeightDecay = 5e-4f, Nesterov = true, Clip = 0,
        Seed = 0, Shuffle = true, Augment = true,
    };

    /// <summary>The flat offset of the first trained parameter: the first tensor of layer(5 - k), or of fc when k = 0.</summary>
    public static long FirstTrainable(ResNet18Layout layout, int k)
    {
        string prefix = k == 0 ? "fc." : $"layer{5 - k}.";
        return layout.Tensors.First(t => t.Role == TensorRole.Parameter && t.Name.StartsWith(prefix, StringComparison.Ordinal)).Offset;
    }

    /// <summary>Fine-tuning of the parameters from <paramref name="first"/> on, on the retain set.</summary>
    public static void FineTuneSuffix(MethodLoop loop, long first)
    {
        loop.Step.FirstTrainable = first;
        loop.Epochs(e => [new Pass(loop.Retain, (b, _, u) => loop.Step.Step(b, BatchLoss.Descent, u, cancel: loop.Cancel), "retain")]);
    }

    public override void Run(MethodLoop loop) =>
        FineTuneSuffix(loop, FirstTrainable(loop.Model.Layout, (int)loop.Settings["--train-last"]));
}
