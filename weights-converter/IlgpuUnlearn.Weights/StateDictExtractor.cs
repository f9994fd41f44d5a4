using IlgpuUnlearn.Weights.Pickle;
using IlgpuUnlearn.Weights.Torch;

namespace IlgpuUnlearn.Weights;

/// <summary>
/// Finds the state dict in an unpickled torch.save file and says what it left out. The state dict is a bare dict of
/// tensors, or one held under 'state_dict', 'model', 'net' or 'model_state_dict' (also one level deeper), or else the
/// dict itself when some of its entries are tensors. Wrapper prefixes that every key carries ('module.' from
/// DataParallel / DistributedDataParallel, '_orig_mod.' from torch.compile, in any order and number) are removed.
/// </summary>
/// <remarks>
/// What does not stop the model: everything outside the state dict (optimizer, LR-scheduler and RNG state, epoch, ...),
/// including objects of globals that are not allowed (an argparse.Namespace), each reported as a warning with its place;
/// non-tensor entries inside the state dict (an 'epoch' int), skipped with a warning, as PyTorch's load_state_dict would
/// call them unexpected keys. What does: an object that is not plain data inside the state dict, named with its place; a
/// file that holds a whole pickled model instead of a state dict.
/// </remarks>
public static class StateDictExtractor
{
    /// <summary>The checkpoint keys searched, in order, when the top level is not itself a state dict.</summary>
    public static readonly IReadOnlyList<string> WrapperKeys = ["state_dict", "model", "net", "model_state_dict"];

    /// <summary>The prefixes wrappers put before every key: DataParallel's and torch.compile's.</summary>
    public static readonly IReadOnlyList<string> WrapperPrefixes = ["module.", "_orig_mod."];

    /// <summary>At most this many warnings are listed one by one; the rest are counted.</summary>
    private const int MaximumWarnings = 8;

    public static ExtractedStateDict Extract(object? root, string sourceName)
    {
        if (root is OpaqueObject opaque)
        {
            throw new WeightsFormatException(sourceName, WholeObjectProblem(opaque, "the file"));
        }
        if (root is not PickleDict top)
        {
            throw new WeightsFormatException(sourceName, $"the file holds a {PickleText.TypeName(root)}, not a dict of tensors");
        }
        (PickleDict stateDict, string? wrapperKey) = FindStateDict(top, null, depth: 0, sourceName)
            ?? (HasTensors(top) ? (top, null) : throw new WeightsFormatException(sourceName,
                $"no state dict found: the top level holds no tensors and none of the keys {string.Join(", ", WrapperKeys.Select(k => $"'{k}'"))} holds a dict of tensors (keys: {DescribeKeys(top)})"));

        var warnings = new List<string>();
        var tensors = new StateDict();
        string placePrefix = wrapperKey is null ? "" : wrapperKey + ".";
        string stripped = CommonWrapperPrefix(stateDict);
        foreach ((object? key, object? value) in stateDict)
        {
            string place = placePrefix + PlaceOf(key);
            if (key is not string name)
            {
                throw new WeightsFormatException(sourceName, $"the state dict has a key {PickleText.Describe(key)} that is not a string");
            }
            if (value is not TorchTensorView tensor)
            {
                if (FindOpaque(value, place) is { } inside)
                {
                    throw new WeightsFormatException(sourceName, $"{inside.Place} is a {inside.Object}, which {inside.Object.Why}; it is inside the model's state dict");
                }
                warnings.Add($"skipped {place} ({DescribeValue(value)}): not a tensor (PyTorch's load_state_dict would call it an unexpected key)");
                continue;
            }
            name = name[stripped.Length..];
            if (tensors.ContainsKey(name))
            {
                throw new WeightsFormatException(sourceName, $"tensor '{name}' appears twice");
            }
            tensors.Set(name, tensor.Materialize());
        }
        if (tensors.Count == 0)
        {
            throw new WeightsFormatException(sourceName, $"the state dict{(wrapperKey is null ? "" : $" under '{wrapperKey}'")} holds no tensors");
        }
        foreach ((string place, OpaqueObject outside) in FindAllOpaque(top, "", new HashSet<object>(ReferenceEqualityComparer.Instance) { stateDict }))
        {
            warnings.Add($"skipped {place}: a {outside} that {outside.Why} (not part of the model)");
        }
        if (warnings.Count > MaximumWarnings)
        {
            int more = warnings.Count - MaximumWarnings;
            warnings.RemoveRange(MaximumWarnings, more);
            warnings.Add($"and {more} more skipped entries");
        }
        return new ExtractedStateDict(tensors, wrapperKey, stripped, warnings) { LeftOut = LeftOut(top, wrapperKey) };
    }

    /// <summary>
    /// The checkpoint's entries beside the state dict ('epoch', 'optimizer', 'best_acc' when it is under 'state_dict'), with
    /// their places: every key of each dict on the way to the state dict that is not on that way. Empty for a bare state dict.
    /// </summary>
    private static IReadOnlyList<string> LeftOut(PickleDict top, string? wrapperKey)
    {
        var left = new List<string>();
        if (wrapperKey is null) return left;
        PickleDict dict = top;
        string prefix = "";
        foreach (string step in wrapperKey.Split('.'))
        {
            foreach ((object? key, _) in dict)
            {
                if (key is not string name || name != step) left.Add(prefix + PlaceOf(key));
            }
            if (!dict.TryGetText(step, out object? inner) || inner is not PickleDict next) break;
            dict = next;
            prefix += step + ".";
        }
        return left;
    }

    /// <summary>What a file (or a checkpoint key) holding an object instead of a state dict is, and what to do.</summary>
    private static string WholeObjectProblem(OpaqueObject opaque, string where) => opaque.IsTorchModule
        ? $"{where} holds a whole pickled model (class {opaque.Global.FullName}, saved with torch.save(model)), not a state dict: " +
          "in PyTorch, load it and save model.state_dict() instead"
        : $"{where} holds an object of '{opaque.Global.FullName}', not a state dict ('{opaque.Global.FullName}' {opaque.Why}): in PyTorch, save model.state_dict() instead";

    /// <summary>The longest run of wrapper prefixes ('module.', '_orig_mod.', in any order) that every key starts with.</summary>
    private static string CommonWrapperPrefix(PickleDict stateDict)
    {
        var names = stateDict.Where(entry => entry.Value is TorchTensorView).Select(entry => entry.Key as string).ToList();
        if (names.Count == 0 || names.Any(name => name is null))
        {
            return "";
        }
        string prefix = "";
        while (true)
        {
            string? next = WrapperPrefixes.FirstOrDefault(p => names.All(name => name!.Length > prefix.Length + p.Length
                && string.CompareOrdinal(name, prefix.Length, p, 0, p.Length) == 0));
            if (next is null)
            {
                return prefix;
            }
            prefix += next;
        }
    }

    private static (PickleDict, string?)? FindStateDict(PickleDict dict, string? path, int depth, string sourceName)
    {
        if (dict.Count > 0 && dict.All(entry => entry.Key is string && entry.Value is TorchTensorView))
        {
            return (dict, path);
        }
        if (depth >= 2)
        {
            return null;
        }
        foreach (string key in WrapperKeys)
        {
            if (!dict.TryGetText(key, out object? inner))
            {
                continue;
            }
            string innerPath = path is null ? key : $"{path}.{key}";
            if (inner is OpaqueObject { IsTorchModule: true } module)
            {
                throw new WeightsFormatException(sourceName, WholeObjectProblem(module, $"the checkpoint key '{innerPath}'"));
            }
            if (inner is PickleDict innerDict)
            {
                if (FindStateDict(innerDict, innerPath, depth + 1, sourceName) is { } found)
                {
                    return found;
                }
                if (HasTensors(innerDict))
                {
                    return (innerDict, innerPath);
                }
            }
        }
        return null;
    }

    private static bool HasTensors(PickleDict dict) => dict.Any(entry => entry.Value is TorchTensorView);

    /// <summary>The first opaque object inside a value, with its place.</summary>
    private static (string Place, OpaqueObject Object)? FindOpaque(object? value, string place)
    {
        foreach (var found in FindAllOpaque(value, place, new HashSet<object>(ReferenceEqualityComparer.Instance)))
        {
            return found;
        }
        return null;
    }

    /// <summary>
    /// Every opaque object inside a value, depth first, with its place (dict keys joined by '.', list and tuple items as
    /// [i]); containers in <paramref name="visited"/> are skipped (and each container is visited once, so shared and
    /// self-referencing ones end).
    /// </summary>
    private static IEnumerable<(string Place, OpaqueObject Object)> FindAllOpaque(object? value, string place, HashSet<object> visited)
    {
        var pending = new Stack<(object? Value, string Place)>();
        pending.Push((value, place));
        while (pending.Count > 0)
        {
            (object? current, string at) = pending.Pop();
            if (current is OpaqueObject opaque)
            {
                yield return (at.Length == 0 ? "the top level" : at, opaque);
                continue;
            }
            if (current is null || current is string or byte[] || current.GetType().IsValueType || !visited.Add(current))
            {
                continue;
            }
            switch (current)
            {
                case PickleDict dict:
                    foreach ((object? key, object? item) in dict.Reverse())
                    {
                        pending.Push((item, at.Length == 0 ? PlaceOf(key) : $"{at}.{PlaceOf(key)}"));
                    }
                    break;
                case List<object?> list:
                    for (int i = list.Count - 1; i >= 0; i--)
                    {
                        pending.Push((list[i], $"{at}[{i}]"));
                    }
                    break;
                case object?[] tuple:
                    for (int i = tuple.Length - 1; i >= 0; i--)
                    {
                        pending.Push((tuple[i], $"{at}[{i}]"));
                    }
                    break;
                case PickleSet set:
                    foreach (object? item in set.Items)
                    {
                        pending.Push((item, $"{at}{{}}"));
                    }
                    break;
            }
        }
    }

    private static string PlaceOf(object? key) => key is string text ? text : PickleText.Describe(key);

    private static string DescribeValue(object? value) => value switch
    {
        long or double or bool or string or null => $"{PickleText.TypeName(value)} {PickleText.Describe(value)}",
        _ => PickleText.TypeName(value),
    };

    private static string DescribeKeys(PickleDict dict)
    {
        const int MaximumKeys = 8;
        IEnumerable<string> shown = dict.Keys.Take(MaximumKeys).Select(PickleText.Describe);
        return string.Join(", ", shown) + (dict.Count > MaximumKeys ? ", ..." : "");
    }
}

/// <summary>The state dict found in a file, and how it was found.</summary>
/// <param name="Tensors">The tensors, keyed as in the file without the wrapper prefix.</param>
/// <param name="WrapperKey">The checkpoint key that held the state dict ('state_dict', 'model', ...), or null.</param>
/// <param name="StrippedPrefix">The wrapper prefix removed from every key ('module.', '_orig_mod.', both), or "".</param>
/// <param name="Warnings">What was skipped, each with its place in the file, one line each.</param>
public sealed record ExtractedStateDict(StateDict Tensors, string? WrapperKey, string StrippedPrefix, IReadOnlyList<string> Warnings)
{
    /// <summary>The checkpoint's entries beside the state dict (its places, e.g. "epoch", "optimizer"); empty for a bare state dict.</summary>
    public IReadOnlyList<string> LeftOut { get; init; } = [];
}
