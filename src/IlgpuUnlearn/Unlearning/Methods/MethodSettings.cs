using System.Globalization;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// Everything one of the Comparator's methods (FT, GA, RL, SalUn, SCRUB) needs, with <see cref="Defaults"/> as the Machine
/// Unlearning Comparator sets them (github.com/gnueaj/Machine-Unlearning-Comparator):
/// <list type="bullet">
/// <item>epochs, learning rate, batch size: frontend/src/utils/config/unlearning.ts (getDefaultUnlearningConfig);</item>
/// <item>momentum 0.9, weight decay 5e-4 (no Nesterov: torch.optim.SGD's default), UNLEARN_SEED 2048, MAX_GRAD_NORM 100,
/// DECREASING_LR [80, 120] with gamma 0.2: backend/app/config/settings.py, used by backend/app/services/unlearn_*.py;</item>
/// <item>FT's CosineAnnealingLR(T_max = epochs, eta_min = 0.01): services/unlearn_FT.py (with lr 0.01 the rate stays 0.01);</item>
/// <item>clipping: GA clips to MAX_GRAD_NORM (threads/unlearn_GA_thread.py), SalUn to grad_clip 100 (services/unlearn_SalUn.py),
/// SCRUB to 1.0 (threads/unlearn_SCRUB_thread.py), FT and RL not at all;</item>
/// <item>SalUn's saliency_threshold 0.75 over 5 forget batches: services/unlearn_SalUn.py, threads/unlearn_SalUn_thread.py;</item>
/// <item>SCRUB's alpha 0.5, gamma 1, kd_temperature 2, msteps 100 (beta 0 is read but never used), Fisher information from
/// 1000 retain samples: services/unlearn_SCRUB.py, threads/unlearn_SCRUB_thread.py.</item>
/// </list>
/// No augmentation (AUGMENTATION = False in every one of those services); the loaders shuffle.
/// </summary>
public sealed record MethodSettings
{
    public UnlearningMethod Method { get; init; } = UnlearningMethod.FT;
    public int Epochs { get; init; } = 10;
    public int BatchSize { get; init; } = 128;
    public double LearningRate { get; init; } = 0.01;
    public float Momentum { get; init; } = 0.9f;
    public float WeightDecay { get; init; } = 5e-4f;
    public bool Nesterov { get; init; }
    /// <summary>Global gradient-norm clip (0: none).</summary>
    public float Clip { get; init; }
    /// <summary>Per-epoch schedule; null is the method's (FT cosine:epochs:0.01, the others multistep:80,120:0.2).</summary>
    public LearningRateSchedule? Schedule { get; init; }
    /// <summary>Seeds the shuffles, RL's and SalUn's random labels and the batches SalUn and SCRUB measure gradients on.</summary>
    public int Seed { get; init; } = 2048;
    public bool Shuffle { get; init; } = true;
    public bool Augment { get; init; }
    /// <summary>SalUn: the fraction of parameters (those with the largest mean |gradient| of the forget NLL) that are updated.</summary>
    public double SaliencyThreshold { get; init; } = 0.75;
    /// <summary>SalUn: forget batches the saliency is averaged over (the Comparator stops after 5).</summary>
    public int SaliencyBatches { get; init; } = 5;
    /// <summary>SCRUB: the distillation temperature T.</summary>
    public float KdTemperature { get; init; } = 2f;
    /// <summary>SCRUB: weight of the distillation loss (alpha).</summary>
    public float ScrubAlpha { get; init; } = 0.5f;
    /// <summary>SCRUB: weight of the retain set's cross-entropy (gamma).</summary>
    public float ScrubGamma { get; init; } = 1f;
    /// <summary>SCRUB: the forget pass (the "max steps") runs in the epochs before this one.</summary>
    public int MSteps { get; init; } = 100;
    /// <summary>SCRUB: retain samples the Fisher information is measured on (whole batches until at least this many).</summary>
    public int FisherSamples { get; init; } = 1000;
    /// <summary>Stop after this many steps in all (a quick trial); null runs every epoch.</summary>
    public int? MaxSteps { get; init; }

    /// <summary>The Comparator's settings for <paramref name="method"/> (see the class summary for the source of each).</summary>
    public static MethodSettings Defaults(UnlearningMethod method) => method switch
    {
        UnlearningMethod.FT => new() { Method = method, Epochs = 10, LearningRate = 0.01, BatchSize = 128, Clip = 0 },
        UnlearningMethod.GA => new() { Method = method, Epochs = 7, LearningRate = 1e-4, BatchSize = 256, Clip = 100 },
        UnlearningMethod.RL => new() { Method = method, Epochs = 3, LearningRate = 1e-3, BatchSize = 64, Clip = 0 },
        UnlearningMethod.SalUn => new() { Method = method, Epochs = 5, LearningRate = 1e-3, BatchSize = 128, Clip = 100 },
        UnlearningMethod.SCRUB => new() { Method = method, Epochs = 5, LearningRate = 0.01, BatchSize = 128, Clip = 1 },
        _ => throw new ArgumentException($"{method} is not one of the Comparator's methods (AdvNegGrad has AdvNegGradSettings)"),
    };

    /// <summary>The schedule in force: <see cref="Schedule"/>, else FT's cosine (T_max = epochs, eta_min 0.01) or MultiStepLR([80, 120], 0.2).</summary>
    public LearningRateSchedule EffectiveSchedule => Schedule ?? (Method == UnlearningMethod.FT
        ? new LearningRateSchedule.Cosine(Epochs, 0.01)
        : new LearningRateSchedule.MultiStep([80, 120], 0.2));

    /// <summary>The optimiser of epoch <paramref name="epoch"/> (0-based): the scheduled rate (in double, rounded once, as torch).</summary>
    public SgdUpdate UpdateAt(int epoch) =>
        new((float)EffectiveSchedule.RateAt(LearningRate, epoch), Momentum, WeightDecay, Nesterov, Clip);

    /// <summary>Throws ArgumentException naming the option that is out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(Method != UnlearningMethod.AdvNegGrad, "AdvNegGrad runs with AdvNegGradSettings");
        Check(Epochs >= 1, $"--epochs must be at least 1, got {Epochs}");
        Check(BatchSize >= 1, $"--batch-size must be at least 1, got {BatchSize}");
        Check(double.IsFinite(LearningRate) && LearningRate > 0, $"--lr must be > 0, got {LearningRate}");
        Check(float.IsFinite(Momentum) && Momentum >= 0 && Momentum < 1, $"--momentum must be in [0, 1), got {Momentum}");
        Check(float.IsFinite(WeightDecay) && WeightDecay >= 0, $"--weight-decay must be >= 0, got {WeightDecay}");
        Check(!Nesterov || Momentum > 0, "Nesterov momentum needs --momentum > 0");
        Check(float.IsFinite(Clip) && Clip >= 0, $"--clip must be >= 0 (0 turns clipping off), got {Clip}");
        Check(double.IsFinite(SaliencyThreshold) && SaliencyThreshold >= 0 && SaliencyThreshold <= 1,
            $"--saliency-threshold must be in [0, 1], got {SaliencyThreshold}");
        Check(SaliencyBatches >= 1, $"--saliency-batches must be at least 1, got {SaliencyBatches}");
        Check(float.IsFinite(KdTemperature) && KdTemperature > 0, $"--kd-temperature must be > 0, got {KdTemperature}");
        Check(float.IsFinite(ScrubAlpha) && ScrubAlpha >= 0, $"--scrub-alpha must be >= 0, got {ScrubAlpha}");
        Check(float.IsFinite(ScrubGamma) && ScrubGamma >= 0, $"--scrub-gamma must be >= 0, got {ScrubGamma}");
        Check(MSteps >= 0, $"--msteps must be >= 0, got {MSteps}");
        Check(FisherSamples >= 1, $"--fisher-samples must be at least 1, got {FisherSamples}");
        Check(MaxSteps is not { } m || m >= 1, $"--max-steps must be at least 1, got {MaxSteps}");
    }

    /// <summary>One line for logs and manifests: "SCRUB: 5 epochs, batch 128, SGD lr 0.01 momentum 0.9 ...".</summary>
    public override string ToString()
    {
        var c = CultureInfo.InvariantCulture;
        string specific = Method switch
        {
            UnlearningMethod.SalUn => string.Create(c, $", saliency threshold {SaliencyThreshold:R} over {SaliencyBatches} forget batches"),
            UnlearningMethod.SCRUB => string.Create(c, $", alpha {ScrubAlpha:R} gamma {ScrubGamma:R} T {KdTemperature:R} msteps {MSteps}, Fisher from {FisherSamples} retain samples"),
            _ => "",
        };
        return string.Create(c, $"{Method}: {Epochs} epoch(s), batch {BatchSize}, SGD lr {LearningRate:R} momentum {Momentum:R} weight decay {WeightDecay:R}") +
               $"{(Nesterov ? " Nesterov" : "")}, schedule {EffectiveSchedule}, " +
               (Clip > 0 ? string.Create(c, $"clip {Clip:R}") : "no clipping") +
               $", {(Shuffle ? "shuffled" : "file order")}, augment {(Augment ? "crop-flip" : "none")}, seed {Seed}{specific}";
    }
}
