using System.Text.RegularExpressions;

namespace IlgpuUnlearn.Tests.Kernels;

/// <summary>
/// Finds the conditional branches of a PTX kernel marked uniform (<c>@%p bra.uni</c>) whose predicate depends on the thread:
/// a forward, flow-sensitive taint analysis over the kernel's basic blocks. Thread-dependent (tainted) are the special registers
/// %tid, %laneid, %warpid, %lanemask_*; whatever is loaded from memory other than kernel parameters (ld.global, ld.shared, ld.local,
/// generic ld), shuffled, voted or returned by an atomic; and every register computed from a tainted one, or written under a
/// tainted predicate. A definition replaces a register's taint (ILGPU reuses registers, so a flow-insensitive union would call the
/// k &lt; K test of a loop thread-dependent because the same predicate register held the bounds test before); at a label the taint
/// of all incoming paths is joined. Divergence carried only by control flow (both arms of a divergent branch writing uniform values
/// into the same register) is not followed: the analysis finds what ILGPU's own uniformity analysis gets wrong in our kernels
/// (an implicitly grouped kernel's index, which it takes for a uniform parameter), not every possible case.
/// </summary>
internal static partial class PtxUniformBranches
{
    private sealed record Instruction(string? Guard, string Opcode, string[] Destinations, string[] Sources, string Text, string? Target);

    [GeneratedRegex(@"%[a-z]+[0-9]+|%(?:tid|laneid|warpid|lanemask_\w+)(?:\.[xyz])?")]
    private static partial Regex Register();

    [GeneratedRegex(@"^@!?(%p[0-9]+)\s+(.*)$")]
    private static partial Regex Guarded();

    /// <summary>Each <c>@%p bra.uni</c> of <paramref name="ptx"/> whose predicate is thread-dependent, as "line N: text" (N counted from 1).</summary>
    public static IReadOnlyList<string> ThreadDependent(string ptx)
    {
        // Basic blocks: a label starts one; a branch or ret ends one.
        var blocks = new List<(string? Label, List<Instruction> Body)> { (null, []) };
        var lines = ptx.Split('\n');
        for (int number = 1; number <= lines.Length; number++)
        {
            string line = lines[number - 1].Split("//")[0].Trim();
            if (line.Length == 0 || line.StartsWith('.') || line is "{" or "}" || line.StartsWith(".visible", StringComparison.Ordinal))
                continue;
            if (line.EndsWith(':'))
            {
                blocks.Add((line[..^1], []));
                continue;
            }
            if (line.StartsWith('.') || line.StartsWith(')') || line.StartsWith('('))
                continue;
            var instruction = Parse(line.TrimEnd(';'), number);
            blocks[^1].Body.Add(instruction);
            if (instruction.Opcode.StartsWith("bra", StringComparison.Ordinal) || instruction.Opcode == "ret")
                blocks.Add((null, []));
        }
        var labels = blocks.Select((b, i) => (b.Label, i)).Where(p => p.Label is not null).ToDictionary(p => p.Label!, p => p.i);

        // Successors: the target of a branch, and the next block unless the block ends in an unconditional branch or ret.
        var successors = blocks.Select((b, i) =>
        {
            var list = new List<int>();
            var last = b.Body.Count > 0 ? b.Body[^1] : null;
            if (last?.Target is { } target && labels.TryGetValue(target, out int t))
                list.Add(t);
            bool falls = last is null || last.Guard is not null || !(last.Opcode.StartsWith("bra", StringComparison.Ordinal) || last.Opcode == "ret");
            if (falls && i + 1 < blocks.Count)
                list.Add(i + 1);
            return list;
        }).ToList();

        var entry = new HashSet<string>[blocks.Count];
        for (int i = 0; i < blocks.Count; i++)
            entry[i] = [];
        var found = new SortedSet<string>(StringComparer.Ordinal);
        var work = new Queue<int>([0]);
        var visited = new bool[blocks.Count];
        while (work.Count > 0)
        {
            int b = work.Dequeue();
            var tainted = new HashSet<string>(entry[b]);
            foreach (var ins in blocks[b].Body)
            {
                bool guardTainted = ins.Guard is not null && tainted.Contains(ins.Guard);
                if (ins.Opcode.StartsWith("bra.uni", StringComparison.Ordinal) && guardTainted)
                    found.Add(ins.Text);
                bool value = guardTainted || ins.Sources.Any(s => s.StartsWith("%tid", StringComparison.Ordinal) || s.StartsWith("%laneid", StringComparison.Ordinal)
                                                                  || s.StartsWith("%warpid", StringComparison.Ordinal) || s.StartsWith("%lanemask", StringComparison.Ordinal)
                                                                  || tainted.Contains(s))
                             || IsThreadDependentSource(ins.Opcode);
                foreach (var d in ins.Destinations)
                {
                    if (value)
                        tainted.Add(d);
                    else if (ins.Guard is null)
                        tainted.Remove(d);   // a predicated uniform write keeps the old taint
                }
            }
            foreach (int s in successors[b])
            {
                int before = entry[s].Count;
                entry[s].UnionWith(tainted);
                if (!visited[s] || entry[s].Count != before)
                {
                    visited[s] = true;
                    work.Enqueue(s);
                }
            }
        }
        return [.. found];
    }

    private static bool IsThreadDependentSource(string opcode)
        => (opcode.StartsWith("ld.", StringComparison.Ordinal) && !opcode.StartsWith("ld.param", StringComparison.Ordinal) && !opcode.StartsWith("ld.const", StringComparison.Ordinal))
           || opcode.StartsWith("shfl", StringComparison.Ordinal) || opcode.StartsWith("vote", StringComparison.Ordinal)
           || opcode.StartsWith("atom", StringComparison.Ordinal) || opcode.StartsWith("activemask", StringComparison.Ordinal);

    private static Instruction Parse(string line, int number)
    {
        string text = $"line {number}: {line}";
        string? guard = null;
        var m = Guarded().Match(line);
        if (m.Success)
        {
            guard = m.Groups[1].Value;
            line = m.Groups[2].Value;
        }
        int space = line.IndexOfAny([' ', '\t']);
        string opcode = space < 0 ? line : line[..space];
        string args = space < 0 ? "" : line[(space + 1)..].Trim();
        string? target = opcode.StartsWith("bra", StringComparison.Ordinal) ? args.Trim() : null;
        string[] all = [.. Register().Matches(args).Select(r => r.Value)];
        bool noDestination = opcode.StartsWith("st.", StringComparison.Ordinal) || opcode.StartsWith("bra", StringComparison.Ordinal)
                             || opcode is "ret" or "exit" || opcode.StartsWith("bar", StringComparison.Ordinal) || opcode.StartsWith("red.", StringComparison.Ordinal)
                             || opcode.StartsWith("membar", StringComparison.Ordinal) || opcode.StartsWith("fence", StringComparison.Ordinal);
        if (noDestination)
            return new(guard, opcode, [], all, text, target);
        // The destinations: the first operand, or the first braced list ({%f1, %f2, ...} of mma and vector loads).
        string first = args.StartsWith('{') ? args[..(args.IndexOf('}') + 1)] : args.Split(',')[0];
        string[] destinations = [.. Register().Matches(first).Select(r => r.Value)];
        return new(guard, opcode, destinations, all[destinations.Length..], text, target);
    }
}
