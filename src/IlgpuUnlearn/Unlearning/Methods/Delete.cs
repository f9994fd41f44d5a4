using IlgpuUnlearn.Training;

namespace IlgpuUnlearn.Unlearning.Methods;

/// <summary>
/// DELETE (Zhou et al., "Decoupled Distillation to Erase", CVPR 2025; github.com/shaaaaron/DELETE, method/delete.py): the
/// forget set only; per batch the student (the model, training mode) is distilled towards the original model (evaluation
/// mode) with each image's true-class logit set to -1e10 before the softmax, so the target spreads the original model's
/// belief over the other classes: loss = KL(softmax(t with t_y = -1e10) || softmax(s)) with reduction 'batchmean' (T = 1).
/// Defaults: 20 epochs, lr 1e-4, batch 128 (config/cifar10_resnet18.yaml: unlearn_epoch, unlearn_rate, batch_size);
/// SGD momentum 0.9, no weight decay, no clipping, no schedule (method/delete.py); the forget loader shuffles and the
/// training transform crops and flips (main.py, utils.py get_transforms). Seed 0 (ours).
/// </summary>
public sealed class Delete : UnlearningMethod
{
    public override string Name => "DELETE";
    public override string Summary => "distillation on the forget set towards the original model with the true class hidden";
    public override string Source => "DELETE (CVPR 2025), github.com/shaaaaron/DELETE: method/delete.py (loss, SGD momentum 0.9), config/cifar10_resnet18.yaml (20 epochs, lr 1e-4, batch 128), utils.py (crop-flip)";
    public override bool NeedsRetain => false;

    public override MethodSettings Defaults => new()
    {
        Method = this, Epochs = 20, LearningRate = 1e-4, BatchSize = 128, Momentum = 0.9f, WeightDecay = 0, Nesterov = false, Clip = 0,
        Seed = 0, Shuffle = true, Augment = true,
    };

    public override LearningRateSchedule DefaultSchedule(int epochs) => new LearningRateSchedule.Constant();

    public override void Run(MethodLoop loop)
    {
        var loss = new BatchLoss(0f, loop.Original(), Temperature: 1, KlScale: 1, HideTrueClass: true);
        loop.Epochs(e => [new Pass(loop.Forget, (b, _, u) => loop.Step.Step(b, loss, u, cancel: loop.Cancel), "forget")]);
    }
}
