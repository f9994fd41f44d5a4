namespace IlgpuUnlearn.Unlearning;

/// <summary>
/// The model card's hyper-parameters (ALGORITHM.md "AdvNegGrad, one step"): gradient
/// g = (1 - alpha) dL_r - alpha dL_f, or g = dL_r - alpha dL_f with <see cref="CardUpdateForm"/>;
/// global-norm clipping to <see cref="Clip"/>; SGD with weight decay and Nesterov momentum.
/// </summary>
public sealed record AdvNegGradSettings
{
    public float Alpha { get; init; } = 0.15f;
    public float Clip { get; init; } = 0.5f;
    public float LearningRate { get; init; } = 0.1f;
    public float Momentum { get; init; } = 0.9f;
    public float WeightDecay { get; init; } = 5e-4f;
    public bool Nesterov { get; init; } = true;
    /// <summary>The card's update line: the retain gradient without the (1 - alpha) factor.</summary>
    public bool CardUpdateForm { get; init; }

    public float RetainScale => CardUpdateForm ? 1f : 1f - Alpha;
    public float ForgetScale => -Alpha;

    /// <summary>The settings in words, as the model card states them: "alpha 0.15, g = (1 - alpha) g_retain - alpha g_forget, clip 0.5, ...".</summary>
    public override string ToString()
    {
        var c = System.Globalization.CultureInfo.InvariantCulture;
        string update = CardUpdateForm ? "g = g_retain - alpha g_forget" : "g = (1 - alpha) g_retain - alpha g_forget";
        string clip = Clip > 0 ? string.Create(c, $"clip {Clip:G}") : "no clipping";
        string momentum = Momentum == 0 ? "no momentum" : string.Create(c, $"{(Nesterov ? "Nesterov" : "plain")} momentum {Momentum:G}");
        return string.Create(c, $"alpha {Alpha:G} ({update}), {clip}, lr {LearningRate:G}, {momentum}, weight decay {WeightDecay:G}");
    }

    public void Validate()
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(float.IsFinite(Alpha) && Alpha >= 0 && Alpha <= 1, $"--alpha must be in [0, 1], got {Alpha}");
        Check(float.IsFinite(Clip) && Clip >= 0, $"--clip must be >= 0 (0 turns clipping off), got {Clip}");
        Check(float.IsFinite(LearningRate) && LearningRate > 0, $"--lr must be > 0, got {LearningRate}");
        Check(float.IsFinite(Momentum) && Momentum >= 0 && Momentum < 1, $"--momentum must be in [0, 1), got {Momentum}");
        Check(float.IsFinite(WeightDecay) && WeightDecay >= 0, $"--weight-decay must be >= 0, got {WeightDecay}");
        Check(!Nesterov || Momentum > 0, "Nesterov momentum needs --momentum > 0");
    }
}
