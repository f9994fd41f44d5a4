using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Training;

/// <summary>
/// Training from scratch as a method of the shared loop (not one of unlearn's: it is not in <see cref="MethodRegistry"/>):
/// per epoch, descent on the NLL of every training image (<see cref="MethodLoop.Retain"/>: every image not of the excluded
/// class, or every image), one pass shuffled by the recipe's seed itself, so that a run's batches are those
/// <see cref="Data.EpochBatches"/> gives for (seed, epoch). <see cref="TrainingRun"/> runs it with checkpoints and per-epoch evaluation.
/// </summary>
public sealed class PlainTraining : UnlearningMethod
{
    public static readonly PlainTraining Instance = new();

    public override string Name => "training";
    public override string Summary => "descent on every training image";
    public override string Source => "the Comparator's base recipe (TrainingRecipe)";
    public override MethodSettings Defaults => new TrainingRecipe().Settings;
    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.Cosine(epochs);
    public override bool NeedsForget => false;

    /// <summary>The one pass of every epoch.</summary>
    public static Pass[] Passes(MethodLoop loop) =>
        [new Pass(loop.Retain, (b, _, u) => loop.Step.Step(b, BatchLoss.Descent, u, cancel: loop.Cancel), "training", Seed: loop.Settings.Seed)];

    public override void Run(MethodLoop loop) => loop.Epochs(_ => Passes(loop));
}
