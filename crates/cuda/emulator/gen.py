# gen.py SOURCE OUT SUFFIX DEFINES...: a kernel source as emulator C++ (its PTX wrappers removed,
# __shared__ as static locals, kernel names suffixed).
import re, sys
src, out, suffix, *defines = sys.argv[1:]
code = open(src).read()
wrappers = ["shared_address", "cp_async16", "cp_async4", "cp_async_commit", "cp_async_wait_all",
            "ldmatrix_x4", "ldmatrix_x4_trans", "mma"]
def strip(code, name):
    m = re.search(r"__device__ __forceinline__ [\w\s\*]+?\b" + name + r"\(", code)
    if not m:
        raise SystemExit(f"no {name}")
    i = code.index("{", m.end())
    depth = 0
    j = i
    while True:
        if code[j] == "{": depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0: break
        j += 1
    return code[:m.start()] + code[j + 1:]
if "asm" in code:
    for w in wrappers:
        if re.search(r"\b" + w + r"\(", code):
            code = strip(code, w)
assert "asm" not in code, "asm left"
code = code.replace("__shared__", "static")
kernels = re.findall(r'extern "C" __global__ void(?: __launch_bounds__\(\w+\))?\s+(\w+)\(', code)
head = '#include "emu.h"\n' + "".join(f"#define {d.replace('=', ' ', 1)}\n" for d in defines)
head += "".join(f"#define {k} {k}{suffix}\n" for k in kernels)
open(out, "w").write(head + "namespace gen" + suffix + " {\n" + code + "\n}\n")
print(out, kernels)
