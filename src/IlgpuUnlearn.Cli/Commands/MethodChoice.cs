using System.Globalization;
using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Training;
using IlgpuUnlearn.Unlearning;
using IlgpuUnlearn.Unlearning.Methods;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>
/// unlearn's method and its settings, checked before anything loads: AdvNegGrad's (<see cref="Card"/>, <see cref="CardSchedule"/>,
/// exactly as before --method existed) or a Comparator method's <see cref="Comparator"/> settings, each option given on the
/// command line overriding the method's default (<see cref="MethodSettings.Defaults"/>).
/// </summary>
internal sealed record MethodChoice(UnlearningMethod Method, AdvNegGradSettings? Card, UnlearningSchedule? CardSchedule, MethodSettings? Comparator)
{
    /// <summary>As reports, manifests and file names write it: AdvNegGrad, FT, GA, RL, SalUn, SCRUB.</summary>
    public string Name => Method.ToString();

    public int BatchSize => Comparator?.BatchSize ?? CardSchedule!.BatchSize;

    public MethodChoice WithBatchSize(int batch) => Comparator is { } m
        ? this with { Comparator = m with { BatchSize = batch } }
        : this with { CardSchedule = CardSchedule! with { BatchSize = batch } };

    /// <summary>The settings in words, without the method's name: AdvNegGrad's as the card states them, then the epochs and batch.</summary>
    public override string ToString()
    {
        if (Comparator is { } m) return m.ToString()[(m.Method.ToString().Length + 2)..] + (m.MaxSteps is { } s ? $", at most {s} step(s)" : "");
        string steps = CardSchedule!.MaxSteps is { } max ? $", at most {max} step(s)" : "";
        return $"{Card}; {CardSchedule.Epochs} epoch(s) of batch {CardSchedule.BatchSize}{steps}";
    }

    /// <summary>Runs the method on <paramref name="model"/> (loaded with the base model); SCRUB's teacher is a second network on the
    /// same device loaded with <paramref name="baseState"/>. Returns the steps and the images forwarded and backpropagated.</summary>
    public (int Steps, long Images) Run(ResNet18 model, ImageDataset train, int k, IReadOnlyDictionary<string, float[]> baseState,
        Action<StepProgress> progress, CancellationToken cancel)
    {
        if (Comparator is not { } m)
        {
            int steps = UnlearningRun.Run(model, train, k, Card!, CardSchedule!, progress, cancel);
            // Each step forwards and backpropagates a retain batch and as many forget images.
            long retain = (long)(train.Count - train.IndicesOfClass(k).Length) * CardSchedule!.Epochs;
            return (steps, 2 * Math.Min(retain, (long)steps * CardSchedule.BatchSize));
        }
        if (Method != UnlearningMethod.SCRUB) return MethodRun.Run(model, train, k, m, null, progress, cancel);
        using var teacher = new ResNet18(model.Ops, model.Config, model.MaxBatch);
        ModelState.Load(teacher, baseState);
        return MethodRun.Run(model, train, k, m, teacher, progress, cancel);
    }

    /// <summary>The settings as the run manifest records them (AdvNegGrad's keys as before; a method's its own).</summary>
    public IEnumerable<(string Key, string Value)> Settings()
    {
        static string Inv(FormattableString f) => f.ToString(CultureInfo.InvariantCulture);
        yield return ("method", Name);
        if (Comparator is not { } m)
        {
            var (c, s) = (Card!, CardSchedule!);
            yield return ("alpha", Inv($"{c.Alpha}"));
            yield return ("card_update", Inv($"{c.CardUpdateForm}"));
            yield return ("clip", Inv($"{c.Clip}"));
            yield return ("lr", Inv($"{c.LearningRate}"));
            yield return ("momentum", Inv($"{c.Momentum}"));
            yield return ("weight_decay", Inv($"{c.WeightDecay}"));
            yield return ("nesterov", Inv($"{c.Nesterov}"));
            yield return ("epochs", Inv($"{s.Epochs}"));
            yield return ("batch_size", Inv($"{s.BatchSize}"));
            yield return ("max_steps", s.MaxSteps is { } x ? Inv($"{x}") : "none");
            yield return ("seed", Inv($"{s.Seed}"));
            yield return ("shuffle", Inv($"{s.Shuffle}"));
            yield return ("augment", s.Augment ? "crop-flip" : "none");
            yield break;
        }
        yield return ("clip", Inv($"{m.Clip}"));
        yield return ("lr", Inv($"{m.LearningRate}"));
        yield return ("lr_schedule", m.EffectiveSchedule.ToString());
        yield return ("momentum", Inv($"{m.Momentum}"));
        yield return ("weight_decay", Inv($"{m.WeightDecay}"));
        yield return ("nesterov", Inv($"{m.Nesterov}"));
        yield return ("epochs", Inv($"{m.Epochs}"));
        yield return ("batch_size", Inv($"{m.BatchSize}"));
        yield return ("max_steps", m.MaxSteps is { } y ? Inv($"{y}") : "none");
        yield return ("seed", Inv($"{m.Seed}"));
        yield return ("shuffle", Inv($"{m.Shuffle}"));
        yield return ("augment", m.Augment ? "crop-flip" : "none");
        if (Method == UnlearningMethod.SalUn)
        {
            yield return ("saliency_threshold", Inv($"{m.SaliencyThreshold}"));
            yield return ("saliency_batches", Inv($"{m.SaliencyBatches}"));
        }
        if (Method == UnlearningMethod.SCRUB)
        {
            yield return ("kd_temperature", Inv($"{m.KdTemperature}"));
            yield return ("scrub_alpha", Inv($"{m.ScrubAlpha}"));
            yield return ("scrub_gamma", Inv($"{m.ScrubGamma}"));
            yield return ("msteps", Inv($"{m.MSteps}"));
            yield return ("fisher_samples", Inv($"{m.FisherSamples}"));
        }
    }

    /// <summary>Reads --method and every hyper-parameter option; one-line UserError or ArgumentException for anything wrong.</summary>
    public static MethodChoice FromOptions(UnlearnOptions o)
    {
        UnlearningMethod method;
        try { method = UnlearningMethods.Parse(o.Method); }
        catch (ArgumentException e) { throw new UserError(e.Message); }
        string name = method.OptionName();
        void Only(bool given, string option, UnlearningMethod owner)
        {
            if (given && method != owner) throw new UserError($"{option} applies to --method {owner.OptionName()} only, not {name}");
        }
        Only(o.Alpha is not null, "--alpha", UnlearningMethod.AdvNegGrad);
        Only(o.CardUpdate, "--card-update", UnlearningMethod.AdvNegGrad);
        Only(o.SaliencyThreshold is not null, "--saliency-threshold", UnlearningMethod.SalUn);
        Only(o.SaliencyBatches is not null, "--saliency-batches", UnlearningMethod.SalUn);
        Only(o.KdTemperature is not null, "--kd-temperature", UnlearningMethod.SCRUB);
        Only(o.ScrubAlpha is not null, "--scrub-alpha", UnlearningMethod.SCRUB);
        Only(o.ScrubGamma is not null, "--scrub-gamma", UnlearningMethod.SCRUB);
        Only(o.MSteps is not null, "--msteps", UnlearningMethod.SCRUB);
        Only(o.FisherSamples is not null, "--fisher-samples", UnlearningMethod.SCRUB);
        if (o.Nesterov && o.NoNesterov) throw new UserError("--nesterov and --no-nesterov contradict each other");
        if (method == UnlearningMethod.AdvNegGrad && o.LearningRateSchedule is not null)
            throw new UserError("--lr-schedule is not for advneggrad (the card's cosine schedule, T_max 200)");
        bool? augment = o.Augment?.ToLowerInvariant() switch
        {
            null => null,
            "crop-flip" => true,
            "none" => false,
            _ => throw new UserError($"--augment '{o.Augment}': use crop-flip or none"),
        };
        int? maxSteps = o.MaxSteps is { } ms ? PlanChecks.AtLeast(ms, 1, "--max-steps") : null;

        if (method == UnlearningMethod.AdvNegGrad)
        {
            var card = new AdvNegGradSettings();
            card = card with
            {
                Alpha = o.Alpha ?? card.Alpha, CardUpdateForm = o.CardUpdate, Clip = o.Clip ?? card.Clip, LearningRate = o.LearningRate ?? card.LearningRate,
                Momentum = o.Momentum ?? card.Momentum, WeightDecay = o.WeightDecay ?? card.WeightDecay, Nesterov = !o.NoNesterov,
            };
            card.Validate();
            var schedule = new UnlearningSchedule
            {
                Epochs = PlanChecks.AtLeast(o.Epochs ?? 1, 1, "--epochs"), BatchSize = PlanChecks.AtLeast(o.BatchSize ?? 2500, 1, "--batch-size"),
                Seed = o.Seed ?? 0, Shuffle = !o.NoShuffle, Augment = augment ?? true, MaxSteps = maxSteps,
            };
            return new MethodChoice(method, card, schedule, null);
        }

        var d = MethodSettings.Defaults(method);
        int epochs = PlanChecks.AtLeast(o.Epochs ?? d.Epochs, 1, "--epochs");
        var settings = d with
        {
            Epochs = epochs, BatchSize = PlanChecks.AtLeast(o.BatchSize ?? d.BatchSize, 1, "--batch-size"),
            LearningRate = o.LearningRate ?? d.LearningRate, Momentum = o.Momentum ?? d.Momentum, WeightDecay = o.WeightDecay ?? d.WeightDecay,
            Nesterov = o.Nesterov || (d.Nesterov && !o.NoNesterov), Clip = o.Clip ?? d.Clip,
            Schedule = o.LearningRateSchedule is { } text ? LearningRateSchedule.Parse(text, epochs) : null,
            Seed = o.Seed ?? d.Seed, Shuffle = !o.NoShuffle, Augment = augment ?? d.Augment,
            SaliencyThreshold = o.SaliencyThreshold ?? d.SaliencyThreshold, SaliencyBatches = o.SaliencyBatches ?? d.SaliencyBatches,
            KdTemperature = o.KdTemperature ?? d.KdTemperature, ScrubAlpha = o.ScrubAlpha ?? d.ScrubAlpha, ScrubGamma = o.ScrubGamma ?? d.ScrubGamma,
            MSteps = o.MSteps ?? d.MSteps, FisherSamples = o.FisherSamples ?? d.FisherSamples, MaxSteps = maxSteps,
        };
        settings.Validate();
        return new MethodChoice(method, null, null, settings);
    }
}
