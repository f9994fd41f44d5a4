using System.Text.Json;
using System.Text.Json.Serialization;

namespace IlgpuUnlearn.Training;

/// <summary>
/// One line of the training log (JSON lines): epoch (1-based), the learning rate used in it, the mean training loss over
/// its batches (NLL, weighted by batch size), and the test set's accuracy (%) and mean NLL with BatchNorm in evaluation
/// mode; for a run without class K also the test accuracy on K alone and on the other classes. Seconds: the epoch's wall time.
/// </summary>
public sealed record EpochRecord(
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("lr")] double LearningRate,
    [property: JsonPropertyName("train_loss")] double TrainLoss,
    [property: JsonPropertyName("test_loss")] double? TestLoss,
    [property: JsonPropertyName("test_accuracy")] double? TestAccuracy,
    [property: JsonPropertyName("excluded_class_test_accuracy")] double? ExcludedClassTestAccuracy,
    [property: JsonPropertyName("other_classes_test_accuracy")] double? OtherClassesTestAccuracy,
    [property: JsonPropertyName("seconds")] double Seconds)
{
    static readonly JsonSerializerOptions Options = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string ToJsonLine() => JsonSerializer.Serialize(this, Options);

    public static EpochRecord FromJsonLine(string line) =>
        JsonSerializer.Deserialize<EpochRecord>(line, Options) ?? throw new FormatException($"not an epoch record: {line}");
}
