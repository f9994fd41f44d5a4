using System.Globalization;
using IlgpuUnlearn.Model;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// SCRUB (Machine Unlearning Comparator, backend/app/threads/unlearn_SCRUB_thread.py, services/unlearn_SCRUB.py): once, the
/// inverse Fisher information (<see cref="InverseFisher"/>); then per epoch, while epoch &lt; msteps, every batch of the forget
/// set with loss -alpha KD (the gradient multiplied by 1 / (f + 1e-8)), then every batch of the retain set with loss
/// alpha KD + gamma NLL, each clipped to 1; KD = T^2/N sum KL(softmax(t/T) || softmax(s/T)), t the logits of the original
/// model (a second ResNet18, evaluation mode, same device). Defaults: 5 epochs, lr 0.01, batch 128 (<see cref="Comparator"/>);
/// alpha 0.5, gamma 1, kd_temperature 2, msteps 100 (beta 0 is read but never used), Fisher information from 1000 retain samples.
/// </summary>
public sealed class Scrub : UnlearningMethod
{
    const long FisherStream = 33;

    public override string Name => "SCRUB";
    public override string Summary => "distillation from the original model, away from it on the forget set, towards it on the retain set";
    public override string Source => Comparator.Source("SCRUB");
    public override MethodSettings Defaults => Comparator.Settings(this, epochs: 5, lr: 0.01, batch: 128, clip: 1);

    public override IReadOnlyList<MethodParameter> Parameters { get; } =
    [
        MethodParameter.Positive("--kd-temperature", 2, "the distillation temperature T"),
        MethodParameter.NonNegative("--scrub-alpha", 0.5, "weight of the distillation loss"),
        MethodParameter.NonNegative("--scrub-gamma", 1, "weight of the retain set's cross-entropy"),
        MethodParameter.Count("--msteps", 100, "the forget pass runs in the epochs before this one", min: 0),
        MethodParameter.Count("--fisher-samples", 1000, "retain samples the Fisher information is measured on (whole batches until at least this many)"),
    ];

    public override string Describe(MethodSettings s) => s.CommonText + string.Create(CultureInfo.InvariantCulture,
        $", alpha {s["--scrub-alpha"]:R} gamma {s["--scrub-gamma"]:R} T {s["--kd-temperature"]:R} msteps {(int)s["--msteps"]}, Fisher from {(int)s["--fisher-samples"]} retain samples");

    public override void Run(MethodLoop loop)
    {
        var s = loop.Settings;
        var teacher = loop.Original();
        using var inverseFisher = loop.Model.Ops.Allocate<float>(loop.Model.Layout.ParameterCount);
        loop.Model.Ops.Upload<float>(InverseFisher(loop.Step, loop.Model, loop.Train, loop.Retain, s, loop.Cancel), inverseFisher.All);
        float alpha = (float)s["--scrub-alpha"], gamma = (float)s["--scrub-gamma"], temperature = (float)s["--kd-temperature"];
        var away = new BatchLoss(0f, teacher, temperature, -alpha);
        var towards = new BatchLoss(gamma, teacher, temperature, alpha);
        var factor = inverseFisher.All;
        var forgetPass = new Pass(loop.Forget, (b, _, u) => loop.Step.Step(b, away, u, factor, cancel: loop.Cancel), "forget");
        var retainPass = new Pass(loop.Retain, (b, _, u) => loop.Step.Step(b, towards, u, cancel: loop.Cancel), "retain");
        int msteps = (int)s["--msteps"];
        loop.Epochs(e => e < msteps ? [forgetPass, retainPass] : [retainPass]);
    }

    /// <summary>
    /// SCRUB's gradient factor (threads/unlearn_SCRUB_thread.py, _compute_fisher_information): f = (sum over whole batches of R,
    /// until at least --fisher-samples samples, of g_b^2) / samples, in float32, measured in evaluation mode as the Comparator does
    /// (<see cref="GradientMeasure"/>); returns 1 / (f + 1e-8). On the host, once.
    /// </summary>
    public static float[] InverseFisher(TrainingStep step, ResNet18 model, Data.ImageDataset train, int[] retain, MethodSettings settings,
        CancellationToken cancel = default)
    {
        long p = model.Layout.ParameterCount;
        var fisher = new float[p];
        var g = new float[p];
        int samples = 0, wanted = (int)settings["--fisher-samples"];
        foreach (var batch in GradientMeasure.Batches(retain, settings, FisherStream))
        {
            if (samples >= wanted) break;
            GradientMeasure.GradientOf(step, train, batch, g, cancel);
            for (long i = 0; i < p; i++) fisher[i] += g[i] * g[i];
            samples += batch.Indices.Length;
        }
        var inverse = new float[p];
        for (long i = 0; i < p; i++) inverse[i] = 1f / (fisher[i] / samples + 1e-8f);
        return inverse;
    }
}
