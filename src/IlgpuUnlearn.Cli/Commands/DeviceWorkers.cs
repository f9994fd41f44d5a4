using System.Runtime.ExceptionServices;
using IlgpuUnlearn.Tensors;

namespace IlgpuUnlearn.Cli.Commands;

/// <summary>
/// Works through a list of jobs on one or more devices: with one device, in order on this thread; with several, one thread
/// per device, each taking the next job when it is free (so ten classes on four GPUs keep all four busy). The first
/// failure stops the others at their next step and is the one rethrown.
/// </summary>
internal static class DeviceWorkers
{
    /// <param name="open">Builds what a device keeps between jobs (its model), from its ops.</param>
    /// <param name="work">Runs one job on the device it is given; the label names the device when there are several
    /// ("cuda:1"; "cpu #2" for a device named twice), else null.</param>
    public static void Run<TJob, TState>(IReadOnlyList<DeviceSpec> devices, bool isDefault, IReadOnlyList<TJob> jobs,
        Func<IOps, TState> open, Action<TState, TJob, DeviceSpec, string?, CancellationToken> work, CancellationToken cancel) where TState : IDisposable
    {
        if (jobs.Count == 0) return;
        if (devices.Count == 1 || jobs.Count == 1)
        {
            using var ops = DeviceChoice.Open(devices[0], isDefault);
            using var state = open(ops);
            foreach (var job in jobs) work(state, job, devices[0], null, cancel);
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var failures = new List<Exception>();
        int next = -1;
        ProgressLine.Shared = true;
        var threads = devices.Take(jobs.Count).Select((device, d) => new Thread(() =>
        {
            try
            {
                using var ops = DeviceChoice.Open(device, isDefault: false);
                using var state = open(ops);
                for (int i = Interlocked.Increment(ref next); i < jobs.Count; i = Interlocked.Increment(ref next))
                {
                    stop.Token.ThrowIfCancellationRequested();
                    work(state, jobs[i], device, devices.Count(other => other == device) > 1 ? $"{device} #{d + 1}" : device.ToString(), stop.Token);
                }
            }
            catch (Exception e)
            {
                lock (failures) failures.Add(e);
                stop.Cancel();
            }
        }) { Name = $"ilgpu-unlearn {device}" }).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        ProgressLine.Shared = false;
        // The cause, not the cancellations it led to on the other devices.
        var first = failures.FirstOrDefault(e => e is not OperationCanceledException) ?? failures.FirstOrDefault();
        if (first is not null) ExceptionDispatchInfo.Throw(first);
    }
}
