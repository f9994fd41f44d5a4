using System.Diagnostics;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Evaluation;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Training;

/// <summary>
/// Trains a ResNet18 with a <see cref="TrainingRecipe"/> on the methods' loop (<see cref="MethodLoop"/>, <see cref="PlainTraining"/>):
/// per epoch e, the batches of <see cref="EpochBatches"/>, one <see cref="TrainingStep.Step"/> each (forward and backward in
/// training mode, descent on the NLL, SGD with the epoch's scheduled rate),
/// then the test set in evaluation mode, then <c>epochDone</c> with the epoch's record and a checkpoint of the state after it.
/// </summary>
public static class TrainingRun
{
    /// <param name="model">Holds the initial parameters (a fresh run) or anything (a resumed one: the checkpoint's are loaded).</param>
    /// <param name="test">Evaluated after every epoch; null skips it.</param>
    /// <param name="resumeFrom">A checkpoint of this recipe on this data to continue from.</param>
    /// <param name="stopAfterEpochs">Stop once this many epochs are done in all (the schedule still spans the recipe's epochs).</param>
    /// <returns>The log of every epoch done, those of the checkpoint included.</returns>
    public static IReadOnlyList<EpochRecord> Run(ResNet18 model, ImageDataset train, ImageDataset? test, TrainingRecipe recipe,
        TrainingCheckpoint? resumeFrom = null, int? stopAfterEpochs = null,
        Action<EpochRecord, TrainingCheckpoint>? epochDone = null, Action<StepProgress>? progress = null, CancellationToken cancel = default)
    {
        recipe.Validate(train.ClassCount);
        int s = model.Config.ImageSize, channels = model.Config.InputChannels;
        if (train.Channels != channels || train.Height != s || train.Width != s)
            throw new ArgumentException($"{train.Name} holds {train.Channels}x{train.Height}x{train.Width} images; the model takes {channels}x{s}x{s}");
        if (train.ClassCount != model.Config.Classes)
            throw new ArgumentException($"{train.Name} has {train.ClassCount} classes, the model {model.Config.Classes}");
        if (recipe.BatchSize > model.MaxBatch) throw new ArgumentException($"batch size {recipe.BatchSize} exceeds the model's {model.MaxBatch}");
        var indices = EpochBatches.TrainingIndices(train, recipe.ExcludeClass);
        if (indices.Length == 0) throw new ArgumentException($"{train.Name} has no image to train on");

        var settings = recipe.Settings;
        using var loop = new MethodLoop(model, train, recipe.ExcludeClass ?? -1, settings, progress, cancel)
        {
            Stopping = "stopping (the last checkpoint is kept; try a lower --lr)",
        };
        var history = new List<EpochRecord>();
        int firstEpoch = 0;
        if (resumeFrom is { } c)
        {
            CheckResumable(c, model, recipe, indices.Length);
            ModelState.Load(model, c.State);
            loop.Step.RestoreOptimizer(c.Momentum, c.Steps);
            history.AddRange(c.History);
            firstEpoch = c.EpochsDone;
        }
        int lastEpoch = Math.Min(recipe.Epochs, stopAfterEpochs ?? recipe.Epochs);
        var epochClock = Stopwatch.StartNew();
        loop.Epochs(_ => PlainTraining.Passes(loop), firstEpoch, lastEpoch, (epoch, meanLoss) =>
        {
            var (testLoss, testAccuracy, excluded, others) = test is null ? default : Evaluate(model, test, recipe.ExcludeClass, cancel);
            var record = new EpochRecord(epoch + 1, recipe.EffectiveSchedule.RateAt(recipe.LearningRate, epoch), meanLoss,
                test is null ? null : testLoss, test is null ? null : testAccuracy, excluded, others, Math.Round(epochClock.Elapsed.TotalSeconds, 3));
            history.Add(record);
            if (epochDone is not null)
            {
                var momentum = new float[model.Layout.ParameterCount];
                model.Ops.Download(loop.Step.Momentum, momentum);
                epochDone(record, new TrainingCheckpoint(recipe.ToString(), epoch + 1, loop.Step.Steps, indices.Length, model.Config,
                    ModelState.Read(model), momentum, history.ToArray()));
            }
            epochClock.Restart();
        });
        return history;
    }

    /// <summary>Test accuracy (%) and mean NLL in evaluation mode; with an excluded class, accuracy on it and on the rest.</summary>
    public static (double Loss, double Accuracy, double? Excluded, double? Others) Evaluate(ResNet18 model, ImageDataset test,
        int? excludeClass, CancellationToken cancel = default)
    {
        var logits = Predictor.Logits(model, test, cancel);
        int classes = model.Config.Classes;
        double loss = 0;
        int correct = 0, inK = 0, correctK = 0;
        for (int i = 0; i < test.Count; i++)
        {
            var row = logits.AsSpan(i * classes, classes);
            int label = test.Label(i);
            loss += NegativeLogLikelihood.Of(row, label);
            bool right = NegativeLogLikelihood.ArgMax(row) == label;
            if (right) correct++;
            if (label == excludeClass) { inK++; if (right) correctK++; }
        }
        double? Percent(int hit, int of) => of == 0 ? null : 100.0 * hit / of;
        return (loss / test.Count, 100.0 * correct / test.Count,
            excludeClass is null ? null : Percent(correctK, inK), excludeClass is null ? null : Percent(correct - correctK, test.Count - inK));
    }

    static void CheckResumable(TrainingCheckpoint c, ResNet18 model, TrainingRecipe recipe, int trainingImages)
    {
        static string Describe(ResNet18Config k) =>
            $"width {k.Width}, {k.InputChannels}x{k.ImageSize}x{k.ImageSize} input, {k.Classes} classes, normalisation {k.Normalization.Name}";
        if (c.Config != model.Config)
            throw new ArgumentException($"the checkpoint is of a ResNet18 of {Describe(c.Config)}; this run builds one of {Describe(model.Config)} (give the same --width and data)");
        if (c.Recipe != recipe.ToString())
            throw new ArgumentException($"the checkpoint was trained with \"{c.Recipe}\"; this run asks for \"{recipe}\" (give the same options)");
        if (c.TrainingImages != trainingImages)
            throw new ArgumentException($"the checkpoint was trained on {c.TrainingImages} images, this data set gives {trainingImages} (give the same data, --limit and --exclude-class)");
        if (c.EpochsDone > recipe.Epochs || c.History.Count != c.EpochsDone)
            throw new ArgumentException($"the checkpoint has {c.EpochsDone} epochs done and {c.History.Count} log lines; the recipe has {recipe.Epochs}");
    }
}
