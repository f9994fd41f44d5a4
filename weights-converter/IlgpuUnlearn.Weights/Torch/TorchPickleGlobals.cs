using IlgpuUnlearn.Weights.Pickle;

namespace IlgpuUnlearn.Weights.Torch;

/// <summary>
/// The allow-list for torch.save'd files, after the names PyTorch's own torch.load(weights_only=True) accepts
/// (torch/_weights_only_unpickler.py): the plain-data names of <see cref="PickleGlobals.PlainData"/>, the storage
/// types, torch dtypes, torch.Size, torch.device, torch.serialization._get_layout, torch.nn.Parameter, the tensor
/// rebuild functions and torch._tensor._rebuild_from_type_v2. The rebuild functions of tensors this reader does not hold
/// (quantized, sparse, meta, tensor subclasses, device tensors) give an <see cref="OpaqueObject"/> saying so. Any other
/// global becomes an <see cref="OpaqueObject"/> too, so that a checkpoint's optimizer, scheduler or training arguments
/// cannot stop its model from loading: the state dict extractor decides, by where it sits, whether it matters.
/// </summary>
public static class TorchPickleGlobals
{
    /// <summary>torch's dtype names (torch.float32 is pickled as the global torch.float32), as PyTorch 1.x and 2.x define them.</summary>
    private static readonly string[] DTypeNames =
    [
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "complex32", "chalf", "complex64", "cfloat",
        "complex128", "cdouble", "uint8", "uint16", "uint32", "uint64", "int8", "int16", "short", "int32", "int", "int64", "long",
        "bool", "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz",
    ];

    /// <summary>Rebuild functions PyTorch allows for tensors this reader does not hold.</summary>
    private static readonly string[] UnreadTensorRebuilds =
    [
        "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass",
        "_rebuild_device_tensor_from_numpy", "_rebuild_device_tensor_from_cpu_tensor", "_rebuild_tensor_v3",
    ];

    /// <summary>The globals a torch.save pickle may use; any other becomes an <see cref="OpaqueObject"/>.</summary>
    public static PickleGlobals Create()
    {
        PickleGlobals globals = PickleGlobals.PlainData().KeepRefusedAsPlaceholders();
        globals.AllowCall("torch._utils", "_rebuild_tensor_v2", RebuildTensor);
        globals.AllowCall("torch._utils", "_rebuild_tensor", RebuildTensor);
        globals.AllowCall("torch._utils", "_rebuild_parameter", RebuildParameter);
        globals.AllowCall("torch._utils", "_rebuild_parameter_with_state", RebuildParameter);
        globals.AllowCall("torch", "Size", args => args is [object?[] dims] ? dims : throw new FormatException("torch.Size takes one tuple"));
        globals.AllowCall("torch", "device", Device);
        globals.AllowCall("torch.serialization", "_get_layout", args => args is [string layout] ? layout : throw new FormatException("_get_layout takes one str"));
        globals.AllowCall("torch.nn.parameter", "Parameter", RebuildParameter);
        globals.AllowValue("torch", "Tensor");
        globals.AllowCall("torch._tensor", "_rebuild_from_type_v2", args => RebuildFromType(globals, args));
        foreach (string name in UnreadTensorRebuilds)
        {
            var global = new PickleGlobal("torch._utils", name);
            globals.AllowCall("torch._utils", name, _ => new OpaqueObject(global, "is a kind of tensor this reader does not read (quantized, sparse, meta, subclass or device tensor)", $"tensor built by {global.FullName}"));
        }
        foreach (TensorDType dtype in Enum.GetValues<TensorDType>())
        {
            globals.AllowValue("torch", dtype.TorchStorageClass());
        }
        foreach (string name in TorchPersistentIds.UnreadStorageElementSizes.Keys)
        {
            globals.AllowValue("torch", name);
        }
        foreach (string name in DTypeNames)
        {
            globals.AllowValue("torch", name);
        }
        return globals;
    }

    // torch.device('cpu') or torch.device('cuda', 0): read as its text, "cpu" or "cuda:0".
    private static object? Device(object?[] args) => args switch
    {
        [string type] => type,
        [string type, long index] => $"{type}:{index}",
        _ => throw new FormatException("torch.device takes (type) or (type, index)"),
    };

    // _rebuild_from_type_v2(func, new_type, args, state): func(*args), as the subclass new_type (a Parameter, or a
    // tensor subclass): the tensor is what is kept.
    private static object? RebuildFromType(PickleGlobals globals, object?[] args)
    {
        if (args is not [PickleGlobal function, _, object?[] arguments, ..])
        {
            throw new FormatException("_rebuild_from_type_v2 takes (function, type, args, state)");
        }
        if (!globals.TryGetCall(function, out Func<object?[], object?>? call) || call is null)
        {
            throw new FormatException($"_rebuild_from_type_v2 calls '{function.FullName}', which is not an allowed function");
        }
        return call(arguments);
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
        if (storage.Storage.UnreadClass is { } unread)
        {
            return new OpaqueObject(new PickleGlobal("torch._utils", "_rebuild_tensor_v2"), "has a dtype this reader does not read", $"tensor of {unread}");
        }
        return new TorchTensorView(storage.Storage, checked(storage.ElementOffset + offset), shape, strides);
    }

    // _rebuild_parameter(data, requires_grad, backward_hooks[, state]): a Parameter is its tensor here.
    private static object? RebuildParameter(object?[] args) =>
        args.Length >= 1 && args[0] is TorchTensorView tensor
            ? tensor
            : throw new FormatException("_rebuild_parameter needs a tensor");
}
