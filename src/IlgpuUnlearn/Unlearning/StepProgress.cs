namespace IlgpuUnlearn.Unlearning;

/// <summary>What the progress line shows after each step; <see cref="Pass"/> names the set of a method's batch ("forget", "retain",
/// "retain+forget", "training"), null for AdvNegGrad (whose results say it).</summary>
public readonly record struct StepProgress(int Epoch, int Epochs, int Step, int StepsPerEpoch, StepResult Result,
    double ImagesPerSecond, TimeSpan Elapsed, TimeSpan Remaining, string? Pass = null);

/// <summary>A loss or the gradient norm became NaN or Inf: the run stops and writes no model.</summary>
public sealed class NonFiniteLossException(string message) : Exception(message);
