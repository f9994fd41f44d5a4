using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// Bad Teacher (Chundawat et al., "Can Bad Teaching Induce Forgetting?", AAAI 2023; github.com/vikram2000b/bad-teaching-unlearning,
/// unlearn.py): the student (the model, training mode) is distilled on the forget set together with a random fraction of the
/// retain set, shuffled together: each retain image towards the original model (the competent teacher), each forget image
/// towards a randomly initialised network (the incompetent teacher), both in evaluation mode; loss = KL(teacher || student)
/// at temperature 1. Settings as DELETE's benchmark code runs it (github.com/shaaaaron/DELETE, method/bad_teacher.py and main.py:
/// KL with reduction 'batchmean', SGD momentum 0.9 without weight decay, 30% of the retain set; config/cifar10_resnet18.yaml:
/// 20 epochs, lr 1e-4, batch 128; crop-flip). Deviation from the original repository, which uses Adam (lr 1e-4, one epoch,
/// batch 256) and F.kl_div's default 'mean' reduction (the 'batchmean' value / classes): there is no Adam update here.
/// The incompetent teacher: torchvision's initialisation (<see cref="RandomInit"/>) seeded by --seed; the retain subset drawn
/// once per run from --seed.
/// </summary>
public sealed class BadTeacher : UnlearningMethod
{
    const long TeacherStream = 51, SubsetStream = 52;

    public override string Name => "BadTeacher";
    public override string Summary => "distillation from the original model on retain images and from a random network on forget images";
    public override string Source => "Chundawat et al. (AAAI 2023), github.com/vikram2000b/bad-teaching-unlearning unlearn.py (loss); settings of DELETE's benchmark, github.com/shaaaaron/DELETE method/bad_teacher.py, main.py (30% of the retain set), config/cifar10_resnet18.yaml";

    protected override IEnumerable<string> OwnDraws => ["the incompetent teacher's initialisation", "the retain subset"];

    public override MethodSettings Defaults => new()
    {
        Method = this, Epochs = 20, LearningRate = 1e-4, BatchSize = 128, Momentum = 0.9f, WeightDecay = 0, Nesterov = false, Clip = 0,
        Seed = 0, Shuffle = true, Augment = true,
    };

    public override IReadOnlyList<MethodParameter> Parameters { get; } =
    [
        MethodParameter.Fraction("--retain-fraction", 0.3, "the fraction of the retain set distilled with the forget set"),
        MethodParameter.Positive("--kl-temperature", 1, "the distillation temperature (the loss is not multiplied by T^2, as in the source)"),
    ];

    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.Constant();

    /// <summary>The retain images distilled: round(fraction x |R|) of them, drawn from the seed, in dataset order.</summary>
    public static int[] RetainSubset(int[] retain, double fraction, int seed)
    {
        var order = (int[])retain.Clone();
        new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, SubsetStream)).Shuffle(order);
        var subset = order.AsSpan(0, (int)Math.Round(fraction * retain.Length)).ToArray();
        Array.Sort(subset);
        return subset;
    }

    public override void Run(MethodLoop loop) =>
        Distil(loop, RandomInit.State(loop.Model.Layout, unchecked((int)DeterministicRandom.DeriveSeed(loop.Settings.Seed, TeacherStream))));

    /// <summary>The method's loop with <paramref name="incompetent"/> as the incompetent teacher's values.</summary>
    public static void Distil(MethodLoop loop, IReadOnlyDictionary<string, float[]> incompetent)
    {
        var s = loop.Settings;
        float t = (float)s["--kl-temperature"];
        var loss = new BatchLoss(0f, loop.Original(), t, KlScale: 1 / (t * t), ForgetTeacher: loop.Network(incompetent), ForgetClass: loop.ForgetClass);
        int[] set = [.. loop.Forget, .. RetainSubset(loop.Retain, s["--retain-fraction"], s.Seed)];
        loop.Epochs(e => [new Pass(set, (b, _, u) => loop.Step.Step(b, loss, u, cancel: loop.Cancel), "retain+forget")]);
    }
}
