@echo off
rem Group Policy logon script: provision MicroSIP for the user who is logging on.
rem
rem Assign it in a GPO linked to the users' OU:
rem   User Configuration > Policies > Windows Settings > Scripts (Logon/Logoff) > Logon
rem   Script name: \\corp\netlogon\microsip\gpo-logon.cmd
rem (or put microsip\gpo-logon.cmd in the "Logon script" field of the user accounts).
rem
rem It runs as the user, so %APPDATA%\MicroSIP and %USERNAME% are that user's, and the user's own
rem credentials read the user's own password file (see README.md, "Secrets").
rem
rem Windows runs logon scripts five minutes after logon (Windows 8.1 and later, unless the policy
rem "Configure Logon Script Delay" says otherwise), so MicroSIP has usually started by then:
rem --if-running stop closes it (microsip.exe /exit), applies, and starts it again minimized;
rem the plan before it makes sure that happens only when there is something to change.
rem
rem Each run leaves its JSON lines (the plan's, and the apply's when there was something to do)
rem in %LOCALAPPDATA%\microsip-provision\provision.log and the same lines in
rem \\fs01\microsip-reports$\%COMPUTERNAME%-%USERNAME%.jsonl, for
rem   microsip-provision report summarize \\fs01\microsip-reports$
rem
rem The run's lines are logged to a file of their own (last-run.jsonl) and then appended to both
rem places with "type", which copies bytes as they are: picking the last line of provision.log
rem with "for /f" would cut lines longer than 8191 characters and re-encode non-ASCII text.
rem
rem MSP_HOME and MSP_REPORTS may be set beforehand (a test, a pilot group); they default to the
rem production shares. Paths are absolute: cmd cannot use a UNC folder as its current folder.

setlocal EnableExtensions DisableDelayedExpansion
if not defined MSP_HOME set "MSP_HOME=\\corp\netlogon\microsip"
if not defined MSP_REPORTS set "MSP_REPORTS=\\fs01\microsip-reports$"
set "MSP_LOGDIR=%LOCALAPPDATA%\microsip-provision"
set "MSP_RUN=%MSP_LOGDIR%\last-run.jsonl"
set "MSP_REPORT=%MSP_REPORTS%\%COMPUTERNAME%-%USERNAME%.jsonl"

if not exist "%MSP_LOGDIR%\" mkdir "%MSP_LOGDIR%"
if exist "%MSP_RUN%" del /f /q "%MSP_RUN%"

rem Plan first: MicroSIP is stopped and restarted only when something is to change, so an
rem ordinary logon (exit code 0, nothing pending) leaves the running softphone alone.
"%MSP_HOME%\microsip-provision.exe" plan "%MSP_HOME%\fleet.toml" --quiet --exit-code --log-file "%MSP_RUN%"
set "MSP_RC=%ERRORLEVEL%"
if not "%MSP_RC%"=="3" goto report
"%MSP_HOME%\microsip-provision.exe" apply "%MSP_HOME%\fleet.toml" --quiet --if-running stop --log-file "%MSP_RUN%"
set "MSP_RC=%ERRORLEVEL%"

:report

rem No line at all: the tool did not start (the share unreachable, the exe blocked). Say so in a
rem report line of our own, so that the fleet view shows this user as failing.
if not exist "%MSP_RUN%" (
    >"%MSP_RUN%" echo {"user":"%USERNAME%","profile":"%APPDATA:\=\\%\\MicroSIP","outcome":"failed","error":"the provisioning tool did not start from %MSP_HOME:\=\\% (exit code %MSP_RC%)"}
)

type "%MSP_RUN%" >>"%MSP_LOGDIR%\provision.log"
rem A laptop away from the office cannot reach the share: not an error for the logon.
type "%MSP_RUN%" >>"%MSP_REPORT%" 2>nul

endlocal & exit /b %MSP_RC%
