# make bench: server CPU (user + system) per chat message against offered
# load, one curve per server and the floor (bench/floor.c, a bare TLS
# relay), 300 TLS sessions, server on CPU 0. Called by bench/report.sh
# with out (the PNG), files and titles (word lists).
set terminal pngcairo size 960,600 font "sans,11"
set output out
set title "XMPP chat, 300 TLS sessions: server CPU per message against offered load"
set xlabel "offered load (messages per second)"
set ylabel "server CPU per message (us, user + system)"
set logscale xy
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key top right
set format x "%.0s%c"
plot for [i=1:words(files)] word(files, i) using 1:2 with linespoints \
    lw 2 pt 7 title word(titles, i)
