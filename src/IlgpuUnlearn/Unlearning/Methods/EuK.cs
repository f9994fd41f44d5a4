using IlgpuUnlearn.Data;
using IlgpuUnlearn.Model;
using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// EU-k, exact unlearning of the last k (Goel et al., arXiv 2201.06640; github.com/shash42/Evaluating-Inexact-Unlearning,
/// src/methods.py retrain_lastK): re-initialise the conv and fc layers of the last k stages (their BatchNorm layers keep
/// their values, as resetFinalResnet leaves them), then train them as <see cref="CfK"/> does, the rest frozen.
/// Re-initialisation: torchvision's (<see cref="RandomInit"/>: Kaiming normal fan-out for conv, uniform +-1/sqrt(in) for fc),
/// seeded by --seed; Goel et al.'s _reinit draws Kaiming normal fan-in with a zero fc bias. Defaults: CF-k's (the sibling
/// card's optimiser and schedule; Goel et al. retrain 62 epochs at batch 64 as that card does).
/// </summary>
public sealed class EuK : UnlearningMethod
{
    const long ReinitStream = 41;

    public override string Name => "EU-k";
    public override string OptionName => "euk";
    public override string Summary => "re-initialise the last k stages' conv and fc layers, then train them on the retain set, the rest frozen";
    public override string Source => "Goel et al. (arXiv 2201.06640), github.com/shash42/Evaluating-Inexact-Unlearning src/methods.py; optimiser, schedule, epochs and batch as cfk";

    protected override IEnumerable<string> OwnDraws => ["re-initialisation of the trained stages"];
    public override bool NeedsForget => false;
    public override MethodSettings Defaults => CfK.CardSettings(this);
    public override IReadOnlyList<MethodParameter> Parameters { get; } = [CfK.TrainLast];
    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.Cosine(200);

    /// <summary>The model's state with the conv weights and fc of the tensors from <paramref name="first"/> on drawn afresh.</summary>
    public static Dictionary<string, float[]> Reinitialised(ResNet18 model, long first, int seed)
    {
        var state = ModelState.Read(model);
        var fresh = RandomInit.State(model.Layout, unchecked((int)DeterministicRandom.DeriveSeed(seed, ReinitStream)));
        foreach (var t in model.Layout.Tensors)
            if (t.Role == TensorRole.Parameter && t.Offset >= first && (t.Shape.Length == 4 || t.Name.StartsWith("fc.", StringComparison.Ordinal)))
                state[t.Name] = fresh[t.Name];
        return state;
    }

    public override void Run(MethodLoop loop)
    {
        long first = CfK.FirstTrainable(loop.Model.Layout, (int)loop.Settings["--train-last"]);
        ModelState.Load(loop.Model, Reinitialised(loop.Model, first, loop.Settings.Seed));
        CfK.FineTuneSuffix(loop, first);
    }
}
