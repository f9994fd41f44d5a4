using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>The allow-list for torch.save'd state dicts: OrderedDict, the tensor rebuild functions and the storage types.</summary>
public static class TorchPickleGlobals
{
    /// <summary>The globals a state dict pickle may use, plus the plain-data ones (dicts, numpy scalars).</summary>
    public static PickleGlobals Create()
    {
        PickleGlobals globals = PickleGlobals.PlainData();
        globals.AllowCall("torch._utils", "_rebuild_tensor_v2", RebuildTensor);
        globals.AllowCall("torch._utils", "_rebuild_tensor", RebuildTensor);
        globals.AllowCall("torch._utils", "_rebuild_parameter", RebuildParameter);
        globals.AllowCall("torch._utils", "_rebuild_parameter_with_state", RebuildParameter);
        globals.AllowCall("torch", "Size", args => args is [object?[] dims] ? dims : throw new FormatException("torch.Size takes one tuple"));
        foreach (TensorDType dtype in Enum.GetValues<TensorDType>())
        {
            globals.AllowValue("torch", dtype.TorchStorageClass());
        }
        return globals;
    }

    // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
    // _rebuild_tensor(storage, storage_offset, size, stride)
    private static object? RebuildTensor(object?[] args)
    {
        if (args.Length < 4 || args[0] is not TorchStorageReference storage || args[1] is not long offset
            || args[2] is not object?[] size || args[3] is not object?[] stride)
        {
            throw new FormatException("a tensor rebuild call needs (storage, offset, size tuple, stride tuple, ...)");
        }
        if (size.Length != stride.Length)
        {
            throw new FormatException($"a tensor has {size.Length} sizes but {stride.Length} strides");
        }
        var shape = new int[size.Length];
        var strides = new long[size.Length];
        for (int i = 0; i < size.Length; i++)
        {
            shape[i] = size[i] is long s and >= 0 and <= int.MaxValue ? (int)s : throw new FormatException("a tensor size must be an int from 0 to 2^31-1");
            strides[i] = stride[i] is long t and >= 0 ? t : throw new FormatException("a tensor stride must be a non-negative int");
        }
        TorchTensorView.CheckBounds(storage.ElementCount, offset, shape, strides);
        return new TorchTensorView(storage.Storage, checked(storage.ElementOffset + offset), shape, strides);
    }

    // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is its tensor here.
    private static object? RebuildParameter(object?[] args) =>
        args.Length >= 1 && args[0] is TorchTensorView tensor
            ? tensor
            : throw new FormatException("_rebuild_parameter needs a tensor");
}
