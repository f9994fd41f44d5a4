namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// What the Machine Unlearning Comparator's five methods (FT, GA, RL, SalUn, SCRUB) share (github.com/gnueaj/Machine-Unlearning-Comparator):
/// epochs, learning rate, batch size from frontend/src/utils/config/unlearning.ts (getDefaultUnlearningConfig); momentum 0.9,
/// weight decay 5e-4 (no Nesterov: torch.optim.SGD's default), UNLEARN_SEED 2048, MAX_GRAD_NORM 100, DECREASING_LR [80, 120]
/// with gamma 0.2 from backend/app/config/settings.py, used by backend/app/services/unlearn_*.py; no augmentation
/// (AUGMENTATION = False in every one of those services); the loaders shuffle.
/// </summary>
public static class Comparator
{
    public const int Seed = 2048;

    /// <summary>The option names of the Comparator's methods.</summary>
    public static readonly IReadOnlyList<string> Methods = ["ft", "ga", "rl", "salun", "scrub"];

    public static string Source(string method) =>
        $"Machine Unlearning Comparator (github.com/gnueaj/Machine-Unlearning-Comparator): frontend/src/utils/config/unlearning.ts, " +
        $"backend/app/config/settings.py, backend/app/services/unlearn_{method}.py, backend/app/threads/unlearn_{method}_thread.py";

    public static MethodSettings Settings(UnlearningMethod method, int epochs, double lr, int batch, float clip) => new()
    {
        Method = method, Epochs = epochs, LearningRate = lr, BatchSize = batch, Clip = clip, Momentum = 0.9f, WeightDecay = 5e-4f,
        Nesterov = false, Seed = Seed, Shuffle = true, Augment = false,
    };
}
