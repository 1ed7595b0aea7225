#!/usr/bin/env bash
# Makes docs/progress.png: `framecache extract` in a 100x6 tmux pane, captured while the
# live line runs and again when it is done, rendered with aha and headless Chromium.
# Needs (Debian): ffmpeg tmux aha chromium fonts-dejavu-core. Run from the repo after `npm run build`.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
sock=framecache-shot-$$
trap 'tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

mkdir -p "$work/bin" "$work/demo"
printf '#!/bin/sh\nexec node %q "$@"\n' "$repo/dist/cli.js" > "$work/bin/framecache"
chmod +x "$work/bin/framecache"
ffmpeg -v error -f lavfi -i testsrc2=s=1920x1080:r=30:d=20 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$work/demo/intro.mp4"
cat > "$work/demo/index.html" <<'HTML'
<div data-composition-id="main" data-fps="30">
  <video id="intro" src="./intro.mp4"></video>
</div>
HTML

tmux -L "$sock" new-session -d -s fcshot -x 100 -y 6 -c "$work/demo" \
  "env -u CI -u NO_COLOR PATH=$work/bin:$PATH PS1='\$ ' TERM=xterm-256color bash --norc --noprofile"
tmux -L "$sock" send-keys -t fcshot "clear" Enter
sleep 0.5
tmux -L "$sock" send-keys -t fcshot "framecache extract index.html" Enter

capture() { tmux -L "$sock" capture-pane -t fcshot -e -p; }
plain() { capture | sed 's/\x1b\[[0-9;]*m//g'; }
for _ in $(seq 600); do plain | grep -Eq ' (4[0-9]|5[0-9])%  ' && break; sleep 0.2; done
capture > "$work/running.ansi"
for _ in $(seq 600); do plain | grep -q 'framecache  1 videos' && break; sleep 0.5; done
capture > "$work/done.ansi"

{
  echo '<html><head><meta charset="utf-8"><style>
    body { margin: 0; background: #1e1e1e; color: #ddd; font: 15px/1.35 "DejaVu Sans Mono", monospace; }
    pre { margin: 0; padding: 10px 14px; white-space: pre; } .label { color: #888; padding: 6px 14px 0; font-size: 12px; }
  </style></head><body>'
  echo '<div class="label">while extracting</div><pre>'
  aha --no-header < "$work/running.ansi" | sed '/^$/d'
  echo '</pre><div class="label">when done</div><pre>'
  aha --no-header < "$work/done.ansi" | sed '/^$/d'
  echo '</pre></body></html>'
} > "$work/shot.html"

chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=880,230 \
  --screenshot="$repo/docs/progress.png" "file://$work/shot.html" 2>/dev/null
echo "wrote docs/progress.png"
sed 's/\x1b\[[0-9;]*m//g' "$work/done.ansi" | sed '/^$/d'
