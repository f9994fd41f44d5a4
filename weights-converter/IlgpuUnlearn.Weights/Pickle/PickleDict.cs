using System.Collections;

namespace IlgpuUnlearn.Weights.Pickle;

/// <summary>
/// A Python dict (or collections.OrderedDict) read from a pickle: insertion-ordered, with keys compared as
/// Python compares hashable values (strings, ints, floats, bools, bytes, None and tuples of those).
/// </summary>
public sealed class PickleDict : IEnumerable<KeyValuePair<object?, object?>>, IPickleBuildable
{
    private readonly List<KeyValuePair<object?, object?>> _entries = [];
    private readonly Dictionary<PickleKey, int> _indexByKey = [];

    public int Count => _entries.Count;

    public IEnumerable<object?> Keys => _entries.Select(entry => entry.Key);

    /// <summary>Instance attributes given by a BUILD opcode (an OrderedDict's _metadata, for instance); null if none.</summary>
    public object? State { get; private set; }

    public object? this[object? key] =>
        TryGetValue(key, out object? value) ? value : throw new KeyNotFoundException($"key {PickleText.Describe(key)} not found");

    /// <summary>Sets a key like Python: a new key goes at the end, an existing one keeps its place.</summary>
    public void Set(object? key, object? value)
    {
        var wrapped = new PickleKey(key);
        if (_indexByKey.TryGetValue(wrapped, out int index))
        {
            _entries[index] = new(_entries[index].Key, value);
            return;
        }
        _indexByKey[wrapped] = _entries.Count;
        _entries.Add(new(key, value));
    }

    public bool ContainsKey(object? key) => _indexByKey.ContainsKey(new PickleKey(key));

    public bool TryGetValue(object? key, out object? value)
    {
        if (_indexByKey.TryGetValue(new PickleKey(key), out int index))
        {
            value = _entries[index].Value;
            return true;
        }
        value = null;
        return false;
    }

    /// <summary>Looks up a string key, also accepting the same text as bytes (pickles read with encoding='bytes').</summary>
    public bool TryGetText(string key, out object? value) =>
        TryGetValue(key, out value) || TryGetValue(System.Text.Encoding.Latin1.GetBytes(key), out value);

    void IPickleBuildable.SetState(object? state)
    {
        if (state is not PickleDict)
        {
            throw new FormatException("a dict's BUILD state must be a dict");
        }
        State = state;
    }

    public IEnumerator<KeyValuePair<object?, object?>> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}
