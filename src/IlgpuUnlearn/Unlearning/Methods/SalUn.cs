using System.Globalization;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// SalUn (Machine Unlearning Comparator, backend/app/threads/unlearn_SalUn_thread.py, services/unlearn_SalUn.py): once, the mask
/// m = [s &gt;= the q-th largest s] (<see cref="Mask"/>); then per epoch every batch of the forget set relabelled wholly with
/// random other classes, then every batch of the retain set, each a descent on the NLL with the gradient multiplied by m,
/// clipped to 100; after each update one more training-mode forward of the batch (the Comparator's accuracy tracking, which
/// moves the BatchNorm running statistics). Defaults: 5 epochs, lr 1e-3, batch 128 (<see cref="Comparator"/>); saliency
/// threshold 0.75 over 5 forget batches, grad_clip 100 (services/unlearn_SalUn.py, threads/unlearn_SalUn_thread.py).
/// The Comparator masks only the gradient (_apply_saliency_mask_to_gradients before optimizer.step(), SGD with momentum 0.9 and
/// weight decay 5e-4), so weight decay and momentum still move the masked weights; that is the default. <c>--freeze-masked</c>
/// masks the whole update instead: a masked weight keeps its value bit for bit and its momentum is 0, as SalUn's own code does
/// since its fix for weight decay (OPTML-Group/Unlearn-Saliency#33, unlearn/RL.py: masked weights restored to their start and
/// their momentum buffer multiplied by the mask after each optimizer.step()).
/// </summary>
public sealed class SalUn : UnlearningMethod
{
    const long SaliencyStream = 32;

    public override string Name => "SalUn";
    public override string Summary => "RL on the most salient 75% of the weights";
    public override string Source => Comparator.Source("SalUn");

    protected override IEnumerable<string> OwnDraws => ["random forget labels"];
    public override MethodSettings Defaults => Comparator.Settings(this, epochs: 5, lr: 1e-3, batch: 128, clip: 100);

    public override IReadOnlyList<MethodParameter> Parameters { get; } =
    [
        MethodParameter.Fraction("--saliency-threshold", 0.75, "the fraction of the weights updated, those with the largest mean |gradient| of the forget loss"),
        MethodParameter.Count("--saliency-batches", 5, "forget batches the saliency is averaged over"),
        MethodParameter.Switch("--freeze-masked", "masked weights keep their value exactly: the mask applies to the whole update, weight decay " +
            "and momentum included (SalUn's fix, OPTML-Group/Unlearn-Saliency#33); off, the Comparator's: only the gradient is masked"),
    ];

    public override string Describe(MethodSettings s) =>
        s.CommonText + string.Create(CultureInfo.InvariantCulture, $", saliency threshold {s["--saliency-threshold"]:R} over {(int)s["--saliency-batches"]} forget batches") +
        (s["--freeze-masked"] != 0 ? ", mask on the whole update (masked weights frozen)" : ", mask on the gradient (the Comparator's)");

    public override void Run(MethodLoop loop)
    {
        using var mask = loop.Model.Ops.Allocate<float>(loop.Model.Layout.ParameterCount);
        loop.Model.Ops.Upload<float>(Mask(loop.Step, loop.Model, loop.Train, loop.Forget, loop.Settings, loop.Cancel), mask.All);
        var factor = mask.All;
        Slice<float>? frozen = loop.Settings["--freeze-masked"] != 0 ? factor : null;
        loop.Epochs(e =>
        [
            new Pass(loop.Forget, (b, _, u) => loop.Step.Step(b, BatchLoss.Descent, u, factor, trackingForward: true, loop.Cancel, frozen), "forget", Relabel.Every),
            new Pass(loop.Retain, (b, _, u) => loop.Step.Step(b, BatchLoss.Descent, u, factor, trackingForward: true, loop.Cancel, frozen), "retain"),
        ]);
    }

    /// <summary>
    /// SalUn's mask (threads/unlearn_SalUn_thread.py, _compute_gradient_saliency): s = (sum over the first B batches of F of
    /// |g_b|) / B in float32, g_b the gradient of batch b's mean NLL (the sign of the Comparator's -NLL does not matter under
    /// |.|), measured in evaluation mode as the Comparator does (<see cref="GradientMeasure"/>); q = floor(threshold * P) of the P parameters (a global threshold, not per tensor); the mask is 1 where s &gt;= the
    /// q-th largest s (ties included, as the Comparator's <c>&gt;=</c> does), 0 elsewhere; all 0 when q = 0. On the host, once.
    /// </summary>
    public static float[] Mask(TrainingStep step, ResNet18 model, Data.ImageDataset train, int[] forget, MethodSettings settings,
        CancellationToken cancel = default)
    {
        long p = model.Layout.ParameterCount;
        var sum = new float[p];
        var g = new float[p];
        int batches = 0;
        foreach (var batch in GradientMeasure.Batches(forget, settings, SaliencyStream).Take((int)settings["--saliency-batches"]))
        {
            GradientMeasure.GradientOf(step, train, batch, g, cancel);
            for (long i = 0; i < p; i++) sum[i] += MathF.Abs(g[i]);
            batches++;
        }
        for (long i = 0; i < p; i++) sum[i] /= batches;
        long q = (long)(settings["--saliency-threshold"] * p);
        var mask = new float[p];
        if (q == 0) return mask;
        var sorted = (float[])sum.Clone();
        Array.Sort(sorted);
        float threshold = sorted[p - q]; // the q-th largest
        for (long i = 0; i < p; i++) mask[i] = sum[i] >= threshold ? 1f : 0f;
        return mask;
    }
}
