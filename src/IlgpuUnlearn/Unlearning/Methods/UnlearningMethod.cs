namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// The unlearning methods of <c>unlearn --method</c>: the model card's AdvNegGrad, and the five baselines of the Machine
/// Unlearning Comparator (github.com/gnueaj/Machine-Unlearning-Comparator, backend/app/services/unlearn_{FT,GA,RL,SalUn,SCRUB}.py
/// and backend/app/threads/unlearn_*_thread.py).
/// </summary>
public enum UnlearningMethod
{
    /// <summary>The model card's method (ALGORITHM.md): per step a retain and a forget batch, g = (1 - alpha) g_r - alpha g_f.</summary>
    AdvNegGrad,
    /// <summary>Fine-tuning: descent on the retain set only.</summary>
    FT,
    /// <summary>Gradient ascent: ascent on the forget set only.</summary>
    GA,
    /// <summary>Random labels: descent on retain and forget set together, the forget images relabelled with random other classes.</summary>
    RL,
    /// <summary>Saliency unlearning: RL restricted to the parameters with the largest forget-loss gradients.</summary>
    SalUn,
    /// <summary>SCRUB: distillation from the original model, away from it on the forget set and towards it on the retain set.</summary>
    SCRUB,
}

public static class UnlearningMethods
{
    public static readonly UnlearningMethod[] All = Enum.GetValues<UnlearningMethod>();

    /// <summary>The command-line spelling: advneggrad, ft, ga, rl, salun, scrub.</summary>
    public static string OptionName(this UnlearningMethod method) => method.ToString().ToLowerInvariant();

    /// <summary>Reads a method's command-line name (any case); ArgumentException listing the methods otherwise.</summary>
    public static UnlearningMethod Parse(string text)
    {
        foreach (var m in All)
            if (string.Equals(m.OptionName(), text.Trim(), StringComparison.OrdinalIgnoreCase)) return m;
        throw new ArgumentException($"--method '{text}': use one of {string.Join(", ", All.Select(m => m.OptionName()))}");
    }
}
