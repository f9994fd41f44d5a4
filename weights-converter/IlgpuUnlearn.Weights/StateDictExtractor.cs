using IlgpuUnlearn.Weights.Pickle;
using IlgpuUnlearn.Weights.Torch;

namespace IlgpuUnlearn.Weights;

/// <summary>
/// Finds the state dict in an unpickled checkpoint: a bare dict of tensors, or one held under
/// 'state_dict', 'model', 'net' or 'model_state_dict' (also one level deeper), and removes a 'module.'
/// prefix that every key carries (DataParallel).
/// </summary>
public static class StateDictExtractor
{
    /// <summary>The checkpoint keys searched, in order, when the top level is not itself a state dict.</summary>
    public static readonly IReadOnlyList<string> WrapperKeys = ["state_dict", "model", "net", "model_state_dict"];

    private const string DataParallelPrefix = "module.";

    public static (StateDict Tensors, string? WrapperKey, bool StrippedModulePrefix) Extract(object? root, string sourceName)
    {
        if (root is not PickleDict top)
        {
            throw new WeightsFormatException(sourceName, $"the file holds a {PickleText.TypeName(root)}, not a dict of tensors");
        }
        (PickleDict stateDict, string? wrapperKey) = FindStateDict(top, null, depth: 0)
            ?? throw new WeightsFormatException(sourceName,
                $"no state dict found: the top level is not a dict of tensors and has none of the keys {string.Join(", ", WrapperKeys.Select(k => $"'{k}'"))} (keys: {DescribeKeys(top)})");

        bool strip = stateDict.Count > 0 && stateDict.Keys.All(key => key is string name && name.StartsWith(DataParallelPrefix, StringComparison.Ordinal));
        var tensors = new StateDict();
        foreach ((object? key, object? value) in stateDict)
        {
            string name = (string)key!;
            if (strip)
            {
                name = name[DataParallelPrefix.Length..];
            }
            if (tensors.ContainsKey(name))
            {
                throw new WeightsFormatException(sourceName, $"tensor '{name}' appears twice");
            }
            tensors.Set(name, ((TorchTensorView)value!).Materialize());
        }
        return (tensors, wrapperKey, strip);
    }

    private static (PickleDict, string?)? FindStateDict(PickleDict dict, string? path, int depth)
    {
        if (IsStateDict(dict))
        {
            return (dict, path);
        }
        if (depth >= 2)
        {
            return null;
        }
        foreach (string key in WrapperKeys)
        {
            if (dict.TryGetText(key, out object? inner) && inner is PickleDict innerDict)
            {
                string innerPath = path is null ? key : $"{path}.{key}";
                if (FindStateDict(innerDict, innerPath, depth + 1) is { } found)
                {
                    return found;
                }
            }
        }
        return null;
    }

    private static bool IsStateDict(PickleDict dict) =>
        dict.Count > 0 && dict.All(entry => entry.Key is string && entry.Value is TorchTensorView);

    private static string DescribeKeys(PickleDict dict)
    {
        const int MaximumKeys = 8;
        IEnumerable<string> shown = dict.Keys.Take(MaximumKeys).Select(PickleText.Describe);
        return string.Join(", ", shown) + (dict.Count > MaximumKeys ? ", ..." : "");
    }
}
