using System.Diagnostics;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;
using IlgpuUnlearn.Weights.ResNet18;

namespace IlgpuUnlearn.Evaluation.Probes;

/// <summary>What of the evaluation below the logits a run computes.</summary>
public sealed record BelowLogitsSettings
{
    /// <summary>The linear probe of every model (<see cref="LinearProbe"/>).</summary>
    public bool Probe { get; init; } = true;

    /// <summary>Linear CKA per stage between every two of the models (<see cref="ComparatorCka"/>).</summary>
    public bool Cka { get; init; } = true;

    /// <summary>Relearn time of every model (<see cref="RelearnTime"/>), with this recipe; null: none.</summary>
    public RelearnSettings? Relearn { get; init; } = new();

    /// <summary>Images per forward pass of the models these figures load (their arenas, one per model for CKA).</summary>
    public int ForwardBatch { get; init; } = 100;
}

/// <summary>
/// The figures below the logits of one run: a linear probe and the relearn time of each model (unlearned or evaluated, base,
/// retrained) and linear CKA per stage between every two of them, each model loaded from its weights into models of its own (the caller's
/// model is not touched), with the wall time of each part.
/// </summary>
public sealed class BelowLogits
{
    /// <summary>The probe of each model by its role.</summary>
    public Dictionary<string, LinearProbe> Probes { get; } = [];

    /// <summary>The relearn time of each model by its role.</summary>
    public Dictionary<string, RelearnTime> Relearn { get; } = [];

    /// <summary>CKA per stage of every pair of models (named by role).</summary>
    public List<LayerCka> Cka { get; } = [];

    /// <summary>(part, seconds, images forwarded) of each part, for the manifest's phases.</summary>
    public List<(string Part, double Seconds, long Images)> Times { get; } = [];

    /// <summary>
    /// Computes the figures of <paramref name="models"/> (role, weights; all of <paramref name="config"/>'s shape) for
    /// forget class <paramref name="forgetClass"/>. <paramref name="baseForgetAccuracy"/>: the base model's forget-class test
    /// accuracy (%), the relearn target's reference (no relearn time without it). <paramref name="progress"/>(part, done,
    /// total) as the work goes. <paramref name="outputs"/>: each role's evaluation outputs on both splits (the same images
    /// as <paramref name="data"/>'s); where they carry the pooled features (<see cref="SampleOutputs.HasFeatures"/>), the
    /// probe fits on those (<see cref="LinearProbe.Of"/>) and forwards nothing, else it forwards both splits itself.
    /// </summary>
    public static BelowLogits Compute(IOps ops, ResNet18Config config, IReadOnlyList<(string Role, ResNet18Weights Weights)> models,
        DatasetSplit data, int forgetClass, double? baseForgetAccuracy, BelowLogitsSettings settings, CancellationToken cancel = default,
        Action<string, long, long>? progress = null, IReadOnlyDictionary<string, (SampleOutputs Train, SampleOutputs Test)>? outputs = null)
    {
        ArgumentNullException.ThrowIfNull(models);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(settings);
        var result = new BelowLogits();
        if (settings.Probe)
        {
            ResNet18? model = null;
            try
            {
                foreach (var (role, weights) in models)
                {
                    var clock = Stopwatch.StartNew();
                    progress?.Invoke($"linear probe of the {role} model", 0, 1);
                    long forwarded = 0;
                    if (outputs is not null && outputs.TryGetValue(role, out var kept) && kept.Train.HasFeatures && kept.Test.HasFeatures)
                        result.Probes[role] = LinearProbe.Of(kept.Train, kept.Test, forgetClass, cancel);
                    else
                    {
                        model ??= new ResNet18(ops, config, settings.ForwardBatch);
                        ModelFiles.Load(model, weights);
                        result.Probes[role] = LinearProbe.Measure(model, data, forgetClass, cancel);
                        forwarded = data.Train.Count + data.Test.Count;
                    }
                    progress?.Invoke($"linear probe of the {role} model", 1, 1);
                    result.Times.Add(($"linear probe {role}", clock.Elapsed.TotalSeconds, forwarded));
                }
            }
            finally { model?.Dispose(); }
        }
        if (settings.Relearn is { } recipe && baseForgetAccuracy is double reference)
        {
            foreach (var (role, weights) in models)
            {
                var clock = Stopwatch.StartNew();
                progress?.Invoke($"relearn time of the {role} model", 0, 1);
                var relearn = RelearnTime.Measure(ops, config, weights, data, forgetClass, reference, recipe, cancel);
                result.Relearn[role] = relearn;
                progress?.Invoke($"relearn time of the {role} model", 1, 1);
                result.Times.Add(($"relearn {role}", clock.Elapsed.TotalSeconds, (long)relearn.EvaluationImages * relearn.AccuracyByStep.Length));
            }
        }
        if (settings.Cka && models.Count >= 2)
        {
            var clock = Stopwatch.StartNew();
            long images = 0;
            result.Cka.AddRange(ComparatorCka.Compute(ops, config, models[0].Role, models[0].Weights, models.Skip(1).ToList(), data,
                forgetClass, settings.ForwardBatch, cancel, (done, total) => { images = done; progress?.Invoke("linear CKA per stage", done, total); }));
            result.Times.Add(("linear CKA", clock.Elapsed.TotalSeconds, images));
        }
        return result;
    }
}
