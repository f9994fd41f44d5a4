using System.Collections;

namespace IlgpuUnlearn.Weights;

/// <summary>An ordered map from tensor names to tensors, in the order of the file (like a PyTorch state dict).</summary>
public sealed class StateDict : IEnumerable<KeyValuePair<string, StoredTensor>>
{
    private readonly List<KeyValuePair<string, StoredTensor>> _entries = [];
    private readonly Dictionary<string, int> _indexByName = new(StringComparer.Ordinal);

    public int Count => _entries.Count;

    public IEnumerable<string> Keys => _entries.Select(entry => entry.Key);

    public StoredTensor this[string name] => _entries[_indexByName[name]].Value;

    /// <summary>Adds a tensor at the end, or replaces the tensor of an existing name in place.</summary>
    public void Set(string name, StoredTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(tensor);
        if (_indexByName.TryGetValue(name, out int index))
        {
            _entries[index] = new(name, tensor);
            return;
        }
        _indexByName[name] = _entries.Count;
        _entries.Add(new(name, tensor));
    }

    public bool ContainsKey(string name) => _indexByName.ContainsKey(name);

    public bool TryGetValue(string name, out StoredTensor tensor)
    {
        if (_indexByName.TryGetValue(name, out int index))
        {
            tensor = _entries[index].Value;
            return true;
        }
        tensor = null!;
        return false;
    }

    public IEnumerator<KeyValuePair<string, StoredTensor>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
