package main

import "fmt"

// sparseTarget is the most CPU one process may spend on a request that
// comes alone, in µs.
const sparseTarget = 60

// apacheTargets adds the rows of the Apache + mod_fcgid goals to Targets.
func (r *report) apacheTargets(row func(target, measured string, ok bool)) {
	a := r.apache
	if a == nil {
		return
	}
	if s := a.sites; len(s) >= 6 && s[0].rps > 0 && s[3].rps > 0 && s[0].cpuUs > 0 && s[3].cpuUs > 0 {
		row("Apache + mod_fcgid, through the .htaccess rewrite: CPU per request at most php-cgi's",
			fmt.Sprintf("%.2fx (%.0f µs vs %.0f µs)", s[0].cpuUs/s[3].cpuUs, s[0].cpuUs, s[3].cpuUs), s[0].cpuUs <= s[3].cpuUs)
		row("Apache + mod_fcgid, through the .htaccess rewrite: throughput at least php-cgi's",
			fmt.Sprintf("%.2fx", s[0].rps/s[3].rps), s[0].rps >= s[3].rps)
		if s[4].cpuUs > 0 {
			row("Apache + mod_fcgid: CPU per request within 2x of C libfcgi's",
				fmt.Sprintf("%.2fx (%.0f µs vs %.0f µs)", s[0].cpuUs/s[4].cpuUs, s[0].cpuUs, s[4].cpuUs), s[0].cpuUs <= 2*s[4].cpuUs)
		}
	}
	if sp := a.sparse; len(sp) > 0 && sp[0].cpuUs > 0 {
		row(fmt.Sprintf("One process, requests 0.5 ms apart: at most %d µs CPU per request", sparseTarget),
			fmt.Sprintf("%.0f µs", sp[0].cpuUs), sp[0].cpuUs <= sparseTarget)
	}
}

func (r *report) apacheTable(p printer) {
	a := r.apache
	if a == nil {
		return
	}
	p("## Apache + mod_fcgid: wrk → Apache → the processes mod_fcgid spawns")
	p("")
	if len(a.sites) > 0 {
		p("One Apache 2.4 (mpm_event) with mod_rewrite and mod_fcgid, `FcgidMaxProcessesPerClass %d`; each", apacheProcs)
		p("application in its own directory with the `.htaccess` a user uploads (this project's is")
		p("`deploy/apache-fcgid/htaccess`), PHP through `FcgidWrapper` (with `PHP_FCGI_MAX_REQUESTS 0`, so")
		p("it is not respawned every 500 requests). wrk with 2 threads and %d connections, after a", a.conns)
		p("warm-up run (as long, 3 s at least) in which mod_fcgid spawns the processes; the runs go")
		p("round the sites in turn (a machine whose speed drifts weighs on all alike). CPU per request:")
		p("user + system time of the processes mod_fcgid runs for the site (`/proc/PID/stat`) over the")
		p("runs, divided by the requests wrk counted. It is what a shared host's CPU limit (CloudLinux")
		p("LVE) counts against the site. Apache's CPU per request: the same for Apache's own processes")
		p("(its workers and mod_fcgid's process manager). Two machine cores serve Apache, the")
		p("applications and wrk, so throughput follows the sum of both CPU columns. A rewrite in an")
		p("`.htaccess` costs Apache an internal redirect: the request passes Apache's phases twice.")
		p("Apache reads an `.htaccess` again for every request and compiles its regular expressions each")
		p("time: the last row, the same binary beside an `.htaccess` of two lines, is what Apache spends")
		p("on the program alone; the difference to the first row is the shipped file's rewrite and the")
		p("rules that keep the site's settings, logs and editor leftovers from being served.")
		p("")
		p("| Site | throughput | application CPU per request | Apache's CPU per request | processes |")
		p("|---|---|---|---|---|")
		for _, f := range a.sites {
			if f.note != "" && f.rps == 0 {
				p("| %s | n/a (%s) | | | |", f.site, f.note)
				continue
			}
			cpu, web := "–", "–"
			if f.cpuUs > 0 {
				cpu = fmt.Sprintf("%.0f µs", f.cpuUs)
			}
			if f.webUs > 0 {
				web = fmt.Sprintf("%.0f µs", f.webUs)
			}
			procs := "–"
			if f.procs > 0 {
				procs = fmt.Sprint(f.procs)
			}
			p("| %s | %s | %s | %s | %s |", f.site, loadFigure{rps: f.rps, errors: f.errors}.cell(), cpu, web, procs)
		}
		p("")
	}
	p("One process spawned as mod_fcgid spawns it, sent one request at a time on a new connection,")
	p("0.5 ms after the previous answer (how mod_fcgid spreads requests over its processes):")
	p("`fcgi-bench -spawn BIN -c 1 -pause 500us -n 2000`, CPU time of the process's threads")
	p("(schedstat) per request, median of %d runs interleaved across the applications.", r.opts.runs)
	p("")
	p("| Application | CPU per request |")
	p("|---|---|")
	for _, f := range a.sparse {
		if f.note != "" && f.cpuUs == 0 {
			p("| %s | n/a (%s) |", f.app, f.note)
			continue
		}
		p("| %s | %.0f µs |", f.app, f.cpuUs)
	}
	p("")
}
