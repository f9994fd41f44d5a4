using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// NegGrad+ (Kurmanji et al., "Towards Unbounded Machine Unlearning", NeurIPS 2023; github.com/meghdadk/SCRUB,
/// thirdparty/repdistiller/helper/loops.py train_negrad, large_scale_ictest.ipynb): AdvNegGrad's loop (the retain set drives
/// the epoch, the forget set cycled beside it) with loss beta NLL(B_r) - (1 - beta) NLL(B_f); here --alpha = 1 - beta is the
/// forget weight, as AdvNegGrad's. The retain batch is forwarded first, as train_negrad does. Defaults (the notebook's
/// ng_alpha 0.9999, ng_epochs 10, ng_lr 0.01, ng_bs 128; negative_grad's torch.optim.SGD(lr, weight_decay=0): no momentum,
/// no weight decay, no schedule, no clipping); no augmentation, seed 0 (ours).
/// </summary>
public sealed class NegGradPlus : UnlearningMethod
{
    public override string Name => "NegGrad+";
    public override string OptionName => "neggrad+";
    public override string Summary => "AdvNegGrad's loop with SCRUB's NegGrad+ settings: beta NLL_retain - (1 - beta) NLL_forget";
    public override string Source => "SCRUB (NeurIPS 2023), github.com/meghdadk/SCRUB: thirdparty/repdistiller/helper/loops.py train_negrad, large_scale_ictest.ipynb (ng_alpha 0.9999, 10 epochs, lr 0.01, batch 128, SGD without momentum or weight decay)";

    public override MethodSettings Defaults => new()
    {
        Method = this, Epochs = 10, BatchSize = 128, LearningRate = 0.01, Momentum = 0, WeightDecay = 0, Nesterov = false, Clip = 0,
        Seed = 0, Shuffle = true, Augment = false,
    };

    public override IReadOnlyList<MethodParameter> Parameters { get; } =
    [
        MethodParameter.Fraction("--alpha", 1e-4, "weight of the forget loss, g = (1 - alpha) g_retain - alpha g_forget (SCRUB's ng_alpha 0.9999 is 1 - alpha)"),
    ];

    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.Constant();

    public override void Run(MethodLoop loop)
    {
        float alpha = (float)loop.Settings["--alpha"];
        float retainScale = 1f - alpha, forgetScale = -alpha;
        loop.Epochs(e => [new Pass(loop.Retain,
            (retain, forget, update) => loop.Step.Unlearn(forget, retain, retainScale, forgetScale, update, loop.Cancel, retainFirst: true),
            Name: null, PairedStream: loop.Forget)]);
    }
}
