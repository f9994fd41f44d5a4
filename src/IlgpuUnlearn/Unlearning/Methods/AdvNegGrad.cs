using System.Globalization;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// The model card's method (docs/methods.md, "AdvNegGrad"): per step a retain batch (the retain set drives the epoch) and as
/// many forget images (the forget set read as an endless stream), one <see cref="TrainingStep.Unlearn"/>: forward and backward
/// of the forget batch, then of the retain batch, g = (1 - alpha) g_r - alpha g_f (or the card's g = g_r - alpha g_f with
/// --card-update), global-norm clipping, SGD with Nesterov momentum and weight decay.
/// Defaults from the model card (alpha 0.15, clip 0.5, SGD lr 0.1 momentum 0.9 weight decay 5e-4 Nesterov, cosine schedule
/// T_max 200 stepped per epoch, batch 2500, the base model's crop-flip augmentation); seed 0, one epoch.
/// </summary>
public sealed class AdvNegGrad : UnlearningMethod
{
    public override string Name => "AdvNegGrad";
    public override string Summary => "the model card: per step a retain batch and as many forget images, g = (1 - alpha) g_retain - alpha g_forget";
    public override string Source => "the model card of jaeunglee/resnet18-cifar10-unlearning (cifar10_resnet18_AdvNegGrad_k.pth): alpha, clip, SGD, cosine T_max 200, batch 2500";

    public override MethodSettings Defaults => new()
    {
        Method = this, Epochs = 1, BatchSize = 2500, LearningRate = 0.1, Momentum = 0.9f, WeightDecay = 5e-4f, Nesterov = true,
        Clip = 0.5f, Seed = 0, Shuffle = true, Augment = true,
    };

    public override IReadOnlyList<MethodParameter> Parameters { get; } =
    [
        MethodParameter.Fraction("--alpha", 0.15, "weight of the forget loss, g = (1 - alpha) g_retain - alpha g_forget"),
        MethodParameter.Switch("--card-update", "use the card's update line instead: g = g_retain - alpha g_forget"),
    ];

    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.Cosine(200);

    /// <summary>The factors of g_r and g_f: (1 - alpha, -alpha), or (1, -alpha) with --card-update; in float, as the step takes them.</summary>
    public static (float Retain, float Forget) Scales(MethodSettings s)
    {
        float alpha = (float)s["--alpha"];
        return (s["--card-update"] != 0 ? 1f : 1f - alpha, -alpha);
    }

    /// <summary>As the card states the settings: "alpha 0.15 (g = (1 - alpha) g_retain - alpha g_forget), clip 0.5, lr 0.1, ...; 1 epoch(s) of batch 2500".</summary>
    public override string Describe(MethodSettings s)
    {
        var c = CultureInfo.InvariantCulture;
        float alpha = (float)s["--alpha"], lr = (float)s.LearningRate;
        string update = s["--card-update"] != 0 ? "g = g_retain - alpha g_forget" : "g = (1 - alpha) g_retain - alpha g_forget";
        string clip = s.Clip > 0 ? string.Create(c, $"clip {s.Clip:G}") : "no clipping";
        string momentum = s.Momentum == 0 ? "no momentum" : string.Create(c, $"{(s.Nesterov ? "Nesterov" : "plain")} momentum {s.Momentum:G}");
        string schedule = s.Schedule is null ? "" : $", schedule {s.EffectiveSchedule}";
        return string.Create(c, $"alpha {alpha:G} ({update}), {clip}, lr {lr:G}, {momentum}, weight decay {s.WeightDecay:G}; {s.Epochs} epoch(s) of batch {s.BatchSize}{schedule}");
    }

    public override void Run(MethodLoop loop)
    {
        var (retainScale, forgetScale) = Scales(loop.Settings);
        loop.Epochs(e => [new Pass(loop.Retain, (retain, forget, update) => loop.Step.Unlearn(forget, retain, retainScale, forgetScale, update, loop.Cancel),
            Name: null, PairedStream: loop.Forget)]);
    }
}
