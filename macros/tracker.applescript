-- Launcher of the Tracker Excel add-in on macOS: the only way the add-in starts a program there.
--
-- Source: macros/tracker.applescript of tracker. `tracker addin install` fills in the @...@ fields
-- (as AppleScript text) and writes the result to ~/Library/Application Scripts/com.microsoft.Excel,
-- the one folder whose scripts Excel's sandboxed VBA may run (with AppleScriptTask). Excel cannot
-- write to that folder, so no workbook's macros can change what this script runs.
--
-- It runs only the Python recorded at install time, only with tracker's own start-up code, and only
-- one of the add-in's actions. The workbook's name is the one value it takes from Excel, and it is
-- handed to the shell quoted: a returned file's name may hold $( ), backquotes or quotes.
--
-- Python starts in the background and the handler returns at once: Excel cannot answer the Apple
-- events Python sends it while a macro is still running (the reason xlwings runs in the background
-- too). When Python has ended, however it ended, the shell calls the add-in's TrackerFinished, which
-- protects the workbook's sheets again and shows what Python wrote to the log.

property pythonPath : "@PYTHON@"
property pythonOptions : "@PYTHON_OPTIONS@"
property bootstrap : "@BOOTSTRAP@"
property logFile : "@LOG_FILE@"
property finishedMacro : "'@ADDIN_NAME@'!TrackerRibbon.TrackerFinished"
property knownActions : {@ACTIONS@}

on RunTracker(parameterString)
	-- parameterString: the action, a line feed, then the workbook's name (all the rest of the text)
	set splitAt to offset of linefeed in parameterString
	if splitAt < 2 or splitAt = (length of parameterString) then error "Tracker: no action or no workbook given"
	set action to text 1 thru (splitAt - 1) of parameterString
	set bookName to text (splitAt + 1) thru -1 of parameterString
	if knownActions does not contain action then error "Tracker: unknown action " & action
	set python to quoted form of pythonPath & " " & pythonOptions & " -c " & quoted form of bootstrap & ¬
		" " & quoted form of logFile & " " & action & " " & quoted form of ("--wb=" & bookName) & " --from_xl=1"
	set callBack to "osascript -e " & quoted form of ¬
		("tell application id \"com.microsoft.Excel\" to run VB macro \"" & finishedMacro & "\"")
	do shell script "(" & python & " 2>>" & quoted form of logFile & "; " & callBack & ") >/dev/null 2>&1 &"
	return "started"
end RunTracker
