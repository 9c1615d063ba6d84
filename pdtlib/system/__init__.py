"""What every stage stands on, and nothing of the method: the machine and the file system.

    paths      where the project reads and writes (data, cache, reports; PDT_* variables)
    atomic     writes a reader never sees half done, and the leftovers of dead writers removed
    runs       a run's folder and its records (run.json, metrics with their parameter hash, locks)
    precision  fp32 or bf16 and the CPU facts that decide `auto`
    progress   progress bars that stay quiet where nobody watches them
"""
