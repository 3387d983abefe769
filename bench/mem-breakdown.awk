# mem-breakdown.awk: sum one process's /proc/PID/smaps by what holds the
# memory.  Input: the smaps file.  -v sps="HEX HEX ..." gives the threads'
# stack pointers (from /proc/PID/task/*/syscall), which tell thread stacks
# apart from other anonymous memory.  Output lines, sizes in kB:
#   class NAME RSS LOCKED MAPPINGS SIZE   (every class, always printed)
#   file PATH RSS LOCKED                  (every mapped file)
# Classes: stacks, heap (brk heap and glibc's 64 MiB-aligned thread arenas),
# dev (mappings of /dev files: GPU driver memory, pinned host memory),
# files (libraries and other files), anon (the rest: staging and driver
# buffers, mmapped malloc blocks).  Works with mawk (no strtonum).

# Value of a hex string without 0x (exact below 2^53).
function hex(s,    i, c, v) {
  s = tolower(s)
  sub(/^0x/, "", s)
  v = 0
  for (i = 1; i <= length(s); i++) {
    c = index("0123456789abcdef", substr(s, i, 1)) - 1
    v = v * 16 + c
  }
  return v
}

# Account the mapping read so far to its class.
function flush(    cls) {
  if (start == "")
    return
  cls = "anon"
  if (name == "[stack]" || has_sp)
    cls = "stacks"
  else if (name == "[heap]" || (name == "" && start % 67108864 == 0 && perms ~ /^rw/))
    cls = "heap"
  else if (name ~ /^\/dev\//)
    cls = "dev"
  else if (name ~ /^\//)
    cls = "files"
  rss[cls] += r; lck[cls] += l; n[cls]++; size[cls] += (end - start) / 1024
  if (cls == "files" || cls == "dev") {
    frss[name] += r; flck[name] += l
  }
  start = ""
}

BEGIN {
  nsp = split(sps, sp, " ")
  for (i = 1; i <= nsp; i++)
    sp[i] = hex(sp[i])
}

/^[0-9a-f]+-[0-9a-f]+ / {
  flush()
  split($1, a, "-")
  start = hex(a[1]); end = hex(a[2]); perms = $2
  name = ""
  for (i = 6; i <= NF; i++)
    name = name (i > 6 ? " " : "") $i
  r = 0; l = 0; has_sp = 0
  for (i = 1; i <= nsp; i++)
    if (sp[i] >= start && sp[i] < end)
      has_sp = 1
  next
}
/^Rss:/ { r = $2 }
/^Locked:/ { l = $2 }

END {
  flush()
  split("stacks heap dev files anon", order, " ")
  for (i = 1; i <= 5; i++) {
    c = order[i]
    printf "class %s %d %d %d %d\n", c, rss[c], lck[c], n[c], size[c]
  }
  for (f in frss)
    printf "file %s %d %d\n", f, frss[f], flck[f]
}
