"""A validator for the Chrome trace-event JSON that `flightllm-run --trace`
writes, for the fields and phases it uses (the "JSON Object Format" of the
Trace Event Format: {"traceEvents": [...], "displayTimeUnit", "otherData"}):

- every event is an object with a string `name`, a `ph` and integer `pid`
  and `tid`;
- "X" (complete) events: numeric `ts` and `dur` >= 0 (microseconds), `args`
  an object when present;
- "M" (metadata) events: name "process_name" or "thread_name" with
  args.name a string;
- `displayTimeUnit`, when present, is "ms" or "ns".

validate_trace() returns the problems found (empty: valid).
"""

PHASES_USED = ("X", "M")


def validate_trace(trace):
    problems = []
    if not isinstance(trace, dict) or not isinstance(trace.get("traceEvents"), list):
        return ["not a trace-event object: needs a 'traceEvents' array"]
    unit = trace.get("displayTimeUnit")
    if unit is not None and unit not in ("ms", "ns"):
        problems.append(f"displayTimeUnit must be 'ms' or 'ns', got {unit!r}")
    if "otherData" in trace and not isinstance(trace["otherData"], dict):
        problems.append("otherData must be an object")

    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool)

    for i, e in enumerate(trace["traceEvents"]):
        where = f"traceEvents[{i}]"
        if not isinstance(e, dict):
            problems.append(f"{where}: not an object")
            continue
        if not isinstance(e.get("name"), str):
            problems.append(f"{where}: 'name' must be a string")
        ph = e.get("ph")
        if ph not in PHASES_USED:
            problems.append(f"{where}: phase {ph!r} is not one of {PHASES_USED}")
            continue
        for key in ("pid", "tid"):
            if not isinstance(e.get(key), int) or isinstance(e.get(key), bool):
                problems.append(f"{where}: '{key}' must be an integer")
        if "args" in e and not isinstance(e["args"], dict):
            problems.append(f"{where}: 'args' must be an object")
        if ph == "X":
            for key in ("ts", "dur"):
                if not number(e.get(key)):
                    problems.append(f"{where}: '{key}' must be a number")
                elif e[key] < 0:
                    problems.append(f"{where}: '{key}' must not be negative")
        else:
            if e.get("name") not in ("process_name", "thread_name"):
                problems.append(f"{where}: metadata event {e.get('name')!r} is not "
                                "process_name or thread_name")
            elif not isinstance(e.get("args", {}).get("name"), str):
                problems.append(f"{where}: metadata needs args.name as a string")
    return problems
