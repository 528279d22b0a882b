Attribute VB_Name = "TrackerRibbon"
' Ribbon callbacks of the Tracker add-in (tracker.xlam), and its launcher of Python.
'
' This file is the source: `tracker addin build` compiles it into the add-in. Edit it here, not in
' the VBA editor of Excel. The module is called TrackerRibbon because a module cannot share the
' project's name (Tracker); the macOS launcher script calls TrackerFinished by that name.
'
' Each button starts Python on one function of tracker.addin.excel (through tracker.addin.launch);
' xw.Book.caller() there is the active workbook. xlwings' own VBA module and its RunPython are not
' used (README, Security): they take the interpreter, Python's import path and more from the active
' workbook's "xlwings.conf" sheet and from an "xlwings.conf" file in its folder -- places a returned
' workbook controls -- and put the workbook's folder first on Python's import path. This launcher
' takes one setting, the interpreter, from one place: the user's own config file that
' `tracker addin install` writes (on macOS not even that: the launcher script has it built in).
' Nothing here reads the active workbook other than its name and its sheets' protection.
Option Explicit

Private Const TITLE As String = "Tracker"

' Python's options, as tracker.addin.trust.PYTHON_OPTIONS: -I is isolated mode, in which neither
' the current folder, nor PYTHON* environment variables, nor the user's site-packages reach
' Python's import path.
Private Const PYTHON_OPTIONS As String = "-I"
' The code Python runs, as tracker.addin.launch.BOOTSTRAP: stderr to the log file (argument 1),
' then the button's action (argument 2). Single quotes only: it is passed in double quotes.
Private Const PYTHON_CODE As String = "import sys;sys.stderr=open(sys.argv[1],'a',errors='replace');import tracker.addin.launch as t;t.main(sys.argv[2])"
' What Python could not show itself (a refusal, a traceback) is written here and shown after the
' run. Windows: in %TEMP%. macOS: in Excel's container (Environ("HOME") there), where the launcher
' script has the same path built in.
Private Const LOG_NAME As String = "tracker-addin.log"
' The key of the interpreter in the user's config file (tracker.addin.config).
Private Const INTERPRETER_KEY As String = "INTERPRETER_WIN"
' The launcher script that `tracker addin install` writes to
' ~/Library/Application Scripts/com.microsoft.Excel (macOS only).
Private Const LAUNCHER_SCRIPT As String = "tracker.applescript"

' Sheets unprotected by UnprotectSheets, to be protected again by ReprotectSheets. Each item is
' an array: the sheet, then its protection options (see UnprotectSheets).
Private mUnprotected As Collection
' macOS: the button whose Python runs in the background, until TrackerFinished is called.
Private mRunning As String


Public Sub TrackerValidate(control As IRibbonControl)
    ' Validate the active learner workbook and mark its problems in place. Learner workbooks are
    ' protected without a password, and Excel refuses formatting changes on a protected sheet
    ' from code, so their sheets are unprotected for the run and protected again afterwards with
    ' the same options, whatever happens.
    RunButton "validate", "Validate", "Open a learner workbook, then click Validate.", True
End Sub


Public Sub TrackerRollup(control As IRibbonControl)
    ' Roll the learner workbooks of the centre folder up into the centre's master workbook.
    RunButton "rollup", "Roll up", "Open a workbook of the centre folder, then click Roll up.", False
End Sub


Public Sub TrackerReport(control As IRibbonControl)
    ' Write the EQA visit pack and the learners' tracking records (PDF) of the centre folder.
    RunButton "report", "Report", "Open a workbook of the centre folder, then click Report.", False
End Sub


Public Sub TrackerNewWorkbook(control As IRibbonControl)
    ' Create a new learner workbook.
    RunButton "new-workbook", "New learner workbook", _
        "Open a workbook of the centre folder, then click New learner workbook.", False
End Sub


Public Sub TrackerOpenCentreFolder(control As IRibbonControl)
    ' Open the centre folder of the active workbook in Explorer or the Finder.
    RunButton "open-centre-folder", "Open centre folder", _
        "Open a workbook of the centre folder, then click Open centre folder.", False
End Sub


Public Sub TrackerIssueWorkbooks(control As IRibbonControl)
    ' Re-issue every learner's current workbook from the centre's ledger into its outbox folder.
    RunButton "issue-workbooks", "Issue workbooks", _
        "Open a workbook of the centre folder, then click Issue workbooks.", False
End Sub


Private Sub RunButton(action As String, label As String, hint As String, unprotectFirst As Boolean)
    ' What every button does: run action in Python on the active workbook, with one error handler
    ' around everything (an error shows a message box, never the VBA debugger), and the sheets
    ' protected again on every way out -- once Python has ended.
    Dim failure As String
    Dim started As Boolean

    On Error GoTo Failed
    If Not PreviousRunFinished() Then Exit Sub
    If ActiveWorkbook Is Nothing Then
        ' Python needs a workbook to work on (it gets the active workbook's name).
        MsgBox hint, vbExclamation, TITLE
        Exit Sub
    End If
    If unprotectFirst Then UnprotectSheets ActiveWorkbook
    started = StartPython(action, label)

Cleanup:
    On Error Resume Next
    If Not (started And IsMac()) Then
        ' Windows waits for Python, so it has ended here. On macOS a started Python runs in the
        ' background and TrackerFinished protects the sheets when it ends.
        mRunning = ""
        ReprotectSheets
    End If
    If failure <> "" Then MsgBox label & " stopped: " & failure, vbCritical, TITLE
    Exit Sub

Failed:
    failure = Err.Description
    If failure = "" Then failure = "error " & Err.Number
    Resume Cleanup
End Sub


Public Sub TrackerFinished()
    ' macOS: called by the launcher script when Python has ended, however it ended. Protects the
    ' workbook's sheets again and shows what Python wrote to the log.
    Dim label As String

    On Error Resume Next
    label = mRunning
    If label = "" Then label = TITLE
    mRunning = ""
    ReprotectSheets
    Application.StatusBar = False
    ShowLog label, LogPath(), 0
End Sub


Private Function PreviousRunFinished() As Boolean
    ' macOS: True unless Python of an earlier click has not reported back and the user waits for it.
    ' (If it never reports back -- it was killed, Excel was busy -- the next click can go on: the
    ' sheets it left unprotected are protected again first.)
    PreviousRunFinished = True
    If mRunning = "" Then Exit Function
    If MsgBox(mRunning & " has not finished yet (or it stopped without reporting back). Start anyway?", _
              vbQuestion + vbYesNo, TITLE) = vbNo Then
        PreviousRunFinished = False
        Exit Function
    End If
    mRunning = ""
    ReprotectSheets
    Application.StatusBar = False
End Function


Private Function IsMac() As Boolean
    #If Mac Then
        IsMac = True
    #End If
End Function


Private Function LogPath() As String
    #If Mac Then
        LogPath = Environ("HOME") & "/" & LOG_NAME
    #Else
        LogPath = Environ("TEMP") & "\" & LOG_NAME
    #End If
End Function


#If Mac Then

Private Function StartPython(action As String, label As String) As Boolean
    ' macOS: Excel's sandbox lets VBA start a program only through an AppleScript in
    ' ~/Library/Application Scripts/com.microsoft.Excel. `tracker addin install` writes ours there
    ' with the interpreter built in (macros/tracker.applescript); it takes only the action and the
    ' workbook's name, starts Python in the background and returns at once (Excel cannot answer
    ' Python's Apple events while this macro runs); TrackerFinished is called when Python ends.
    DeleteFile LogPath()
    mRunning = label
    Application.StatusBar = "Tracker: " & label & " is running..."
    On Error GoTo NoLauncher
    AppleScriptTask LAUNCHER_SCRIPT, "RunTracker", action & vbLf & ActiveWorkbook.Name
    StartPython = True
    Exit Function
NoLauncher:
    mRunning = ""
    Application.StatusBar = False
    Err.Raise vbObjectError + 1, , "Python could not be started (" & Err.Description & "). Quit Excel and " & _
        "run  tracker addin install  in Terminal: it puts the launcher " & LAUNCHER_SCRIPT & _
        " into ~/Library/Application Scripts/com.microsoft.Excel."
End Function

#Else

Private Function StartPython(action As String, label As String) As Boolean
    ' Windows: start the interpreter recorded in the user's config file directly -- no cmd.exe, so
    ' no shell reads the command line -- hidden, and wait for it. While Excel waits, Python works on
    ' the workbook through COM (as xlwings' RunPython does it).
    Dim python As String
    Dim commandLine As String
    Dim exitCode As Long

    python = UserConfigValue(INTERPRETER_KEY)
    If python = "" Then
        Err.Raise vbObjectError + 1, , "no Python is recorded in " & UserConfigPath() & _
            ". Quit Excel and run  tracker addin install."
    End If
    If Dir(python) = "" Then
        Err.Raise vbObjectError + 2, , "the Python recorded in " & UserConfigPath() & " (" & python & _
            ") does not exist. Quit Excel and run  tracker addin install  again."
    End If
    DeleteFile LogPath()
    commandLine = PythonCommandLine(python, LogPath(), action, ActiveWorkbook.Name, CStr(Application.Hwnd))
    On Error GoTo NotStarted
    ' Excel quirk: WScript.Shell's Run expands %NAME% environment variables in the command line, so
    ' a workbook named "%TEMP%.xlsx" would reach Python renamed (and not be found). Nothing else in
    ' a file name changes: no environment variable of the user's is the workbook's to choose.
    exitCode = CreateObject("WScript.Shell").Run(commandLine, 0, True)
    On Error GoTo 0
    ShowLog label, LogPath(), exitCode
    StartPython = True
    Exit Function
NotStarted:
    Err.Raise vbObjectError + 3, , "Excel could not start Python (" & Err.Description & "). If your " & _
        "organisation's Microsoft Defender blocks Office applications from creating child processes " & _
        "(attack surface reduction rule D4F940AB-401B-4EFC-AADC-AD5F3C50688A), the add-in cannot run: " & _
        "ask your IT administrator."
End Function

#End If


Private Function PythonCommandLine(python As String, logFile As String, action As String, _
                                   bookName As String, hwnd As String) As String
    ' The Windows command line of the add-in's Python process (the macOS launcher script builds the
    ' same arguments): the interpreter, its options, the code, then the arguments tracker.addin.launch
    ' and xw.Book.caller() read.
    PythonCommandLine = Quoted(python) & " " & PYTHON_OPTIONS & " -c " & Quoted(PYTHON_CODE) & " " & _
        Quoted(logFile) & " " & action & " " & Quoted("--wb=" & bookName) & " --from_xl=1 " & _
        Quoted("--hwnd=" & hwnd)
End Function


Private Function Quoted(ByVal arg As String) As String
    ' One argument of a Windows command line as the C runtime that starts Python splits it: in double
    ' quotes, so that spaces stay inside. A backslash counts only before a double quote, so a trailing
    ' one is doubled (it would escape the closing quote); a double quote cannot occur in a Windows
    ' file name, and none is passed.
    If InStr(arg, Chr(34)) > 0 Then Err.Raise vbObjectError + 4, , "cannot pass a double quote to Python: " & arg
    If Right$(arg, 1) = "\" Then arg = arg & "\"
    Quoted = Chr(34) & arg & Chr(34)
End Function


Private Function UserConfigPath() As String
    ' The user's own config file, written by `tracker addin install` (tracker.addin.config.config_file).
    UserConfigPath = Environ("USERPROFILE") & "\.xlwings\xlwings.conf"
End Function


Private Function UserConfigValue(key As String) As String
    ' The value of key in the user's config file: lines "KEY","VALUE", read with Input # as xlwings
    ' reads them. Input # reads the ANSI code page, which is why the file is written in it.
    Dim f As Integer
    Dim k As String
    Dim v As String

    If Dir(UserConfigPath()) = "" Then Exit Function
    On Error GoTo Failed
    f = FreeFile
    Open UserConfigPath() For Input As #f
    Do While Not EOF(f)
        Input #f, k, v
        If UCase$(k) = UCase$(key) Then
            UserConfigValue = v
            Exit Do
        End If
    Loop
    Close #f
    Exit Function
Failed:
    Close #f
    Err.Raise vbObjectError + 5, , UserConfigPath() & " cannot be read (" & Err.Description & "). Quit Excel " & _
        "and run  tracker addin install  again."
End Function


Private Sub ShowLog(label As String, logFile As String, exitCode As Long)
    ' Shows what Python wrote to the log (a refusal, an error it did not expect), then deletes it.
    ' Everything Python meant to say it has already said in its own message box.
    Dim message As String

    message = ReadText(logFile)
    DeleteFile logFile
    If message = "" And exitCode = 0 Then Exit Sub
    If message = "" Then message = "Python ended with exit code " & exitCode & " and gave no reason. Run  " & _
        "tracker addin status  to check the installation."
    ' A message box shows about 1,000 characters; the end of a Python traceback says the most.
    If Len(message) > 900 Then message = "..." & Right$(message, 900)
    MsgBox label & " stopped:" & vbLf & vbLf & message, vbCritical, TITLE
End Sub


Private Function ReadText(path As String) As String
    ' The text of a file without its trailing line ends, or "" when there is none.
    Dim f As Integer
    Dim textLine As String

    On Error GoTo Done
    If Dir(path) = "" Then Exit Function
    f = FreeFile
    Open path For Input As #f
    Do While Not EOF(f)
        Line Input #f, textLine
        ReadText = ReadText & textLine & vbLf
    Loop
Done:
    On Error Resume Next
    If f <> 0 Then Close #f
    Do While Right$(ReadText, 1) = vbLf
        ReadText = Left$(ReadText, Len(ReadText) - 1)
    Loop
End Function


Private Sub DeleteFile(path As String)
    On Error Resume Next
    If Dir(path) <> "" Then Kill path
End Sub


Private Sub UnprotectSheets(wb As Workbook)
    ' Unprotects every protected worksheet of wb that has no password and remembers its options.
    ' A sheet protected with a password is left alone (Unprotect "" fails on it without asking).
    Dim ws As Worksheet
    Dim options As Variant

    Set mUnprotected = New Collection
    For Each ws In wb.Worksheets
        If ws.ProtectContents Or ws.ProtectDrawingObjects Or ws.ProtectScenarios Then
            With ws.Protection
                options = Array(ws, ws.ProtectDrawingObjects, ws.ProtectContents, _
                    ws.ProtectScenarios, .AllowFormattingCells, .AllowFormattingColumns, _
                    .AllowFormattingRows, .AllowInsertingColumns, .AllowInsertingRows, _
                    .AllowInsertingHyperlinks, .AllowDeletingColumns, .AllowDeletingRows, _
                    .AllowSorting, .AllowFiltering, .AllowUsingPivotTables, ws.EnableSelection)
            End With
            If TryUnprotect(ws) Then mUnprotected.Add options
        End If
    Next ws
End Sub


Private Function TryUnprotect(ws As Worksheet) As Boolean
    ' True when ws could be unprotected with the empty password.
    On Error Resume Next
    ws.Unprotect Password:=""
    TryUnprotect = (Err.Number = 0) And Not ws.ProtectContents
    Err.Clear
End Function


Private Sub ReprotectSheets()
    ' Protects again, with their own options, the sheets UnprotectSheets unprotected. Keeps
    ' going when one sheet fails (for example because it was deleted) and reports those sheets.
    Dim entry As Variant
    Dim ws As Worksheet
    Dim notProtected As String

    If mUnprotected Is Nothing Then Exit Sub
    For Each entry In mUnprotected
        Set ws = entry(0)
        If Not ProtectAgain(ws, entry) Then notProtected = notProtected & vbCrLf & "  " & SheetName(ws)
    Next entry
    Set mUnprotected = Nothing
    If notProtected <> "" Then
        MsgBox "These sheets could not be protected again; protect them by hand " & _
            "(Review > Protect Sheet, no password):" & notProtected, vbExclamation, TITLE
    End If
End Sub


Private Function ProtectAgain(ws As Worksheet, options As Variant) As Boolean
    On Error GoTo Failed
    ws.Protect Password:="", DrawingObjects:=options(1), Contents:=options(2), _
        Scenarios:=options(3), AllowFormattingCells:=options(4), _
        AllowFormattingColumns:=options(5), AllowFormattingRows:=options(6), _
        AllowInsertingColumns:=options(7), AllowInsertingRows:=options(8), _
        AllowInsertingHyperlinks:=options(9), AllowDeletingColumns:=options(10), _
        AllowDeletingRows:=options(11), AllowSorting:=options(12), _
        AllowFiltering:=options(13), AllowUsingPivotTables:=options(14)
    ws.EnableSelection = options(15)
    ProtectAgain = True
    Exit Function
Failed:
    ProtectAgain = False
End Function


Private Function SheetName(ws As Worksheet) As String
    On Error Resume Next
    SheetName = "(a deleted sheet)"
    SheetName = ws.Name
End Function
