using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Training;

/// <summary>
/// How a ResNet18 is trained from scratch. The defaults are the recipe of the base model the Comparator publishes
/// (github.com/gnueaj/Machine-Unlearning-Comparator, backend/app/config/settings.py and services/train.py): SGD, lr 0.1,
/// momentum 0.9, weight decay 5e-4, Nesterov; CosineAnnealingLR with T_max = epochs, stepped per epoch; batch 128;
/// random crop 32 of the 4-pixel zero-padded image and a horizontal flip; 200 epochs. With <see cref="ExcludeClass"/>
/// the same recipe trains the retrained model (the Comparator's resnet18_cifar10_no_&lt;class&gt;.pth).
/// </summary>
public sealed record TrainingRecipe
{
    public int Epochs { get; init; } = 200;
    public int BatchSize { get; init; } = 128;
    public double LearningRate { get; init; } = 0.1;
    public float Momentum { get; init; } = 0.9f;
    public float WeightDecay { get; init; } = 5e-4f;
    public bool Nesterov { get; init; } = true;
    /// <summary>Global gradient-norm clip (0: none, the base recipe).</summary>
    public float Clip { get; init; }
    /// <summary>Per-epoch schedule; null is cosine with T_max = <see cref="Epochs"/>.</summary>
    public LearningRateSchedule? Schedule { get; init; }
    public bool Shuffle { get; init; } = true;
    public bool Augment { get; init; } = true;
    /// <summary>Seeds the initial parameters (<see cref="Model.RandomInit"/>), the data order and the augmentation.</summary>
    public int Seed { get; init; }
    /// <summary>A class left out of the training set (the retrained model); null trains on every class.</summary>
    public int? ExcludeClass { get; init; }

    public LearningRateSchedule EffectiveSchedule => Schedule ?? new LearningRateSchedule.Cosine(Epochs);

    /// <summary>The recipe as the shared loop's settings (<see cref="PlainTraining"/>: descent on every training image).</summary>
    public MethodSettings Settings => new()
    {
        Method = PlainTraining.Instance, Epochs = Epochs, BatchSize = BatchSize, LearningRate = LearningRate, Momentum = Momentum,
        WeightDecay = WeightDecay, Nesterov = Nesterov, Clip = Clip, Schedule = EffectiveSchedule, Seed = Seed, Shuffle = Shuffle, Augment = Augment,
    };

    /// <summary>Throws ArgumentException naming the option that is out of range.</summary>
    public void Validate(int classCount)
    {
        static void Check(bool ok, string message) { if (!ok) throw new ArgumentException(message); }
        Check(ExcludeClass is not { } k || (k >= 0 && k < classCount), $"--exclude-class {ExcludeClass} is outside 0..{classCount - 1}");
        Settings.Validate();
    }

    /// <summary>One line for logs and checkpoints; two recipes with the same text train the same way.</summary>
    public override string ToString() =>
        $"epochs {Epochs}, batch {BatchSize}, SGD lr {LearningRate:R} momentum {Momentum:R} weight decay {WeightDecay:R}" +
        $"{(Nesterov ? " Nesterov" : "")}, schedule {EffectiveSchedule}, clip {Clip:R}, " +
        $"{(Shuffle ? "shuffled" : "file order")}, augment {(Augment ? "crop-flip" : "none")}, seed {Seed}, " +
        $"{(ExcludeClass is { } c ? $"without class {c}" : "every class")}";
}
