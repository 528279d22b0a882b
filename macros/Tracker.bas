Attribute VB_Name = "TrackerRibbon"
' Ribbon callbacks of the Tracker add-in (tracker.xlam).
'
' This file is the source: `tracker addin build` compiles it into the add-in together with the
' xlwings VBA module of the installed xlwings. Edit it here, not in the VBA editor of Excel.
' The module is called TrackerRibbon because a module cannot share the project's name (Tracker).
'
' Each button calls one Python function of tracker.addin.excel through xlwings' RunPython;
' xw.Book.caller() there is the active workbook.
Option Explicit

Private Const TITLE As String = "Tracker"

' Sheets unprotected by UnprotectSheets, to be protected again by ReprotectSheets. Each item is
' an array: the sheet, then its protection options (see UnprotectSheets).
Private mUnprotected As Collection


Public Sub TrackerValidate(control As IRibbonControl)
    ' Validate the active learner workbook and mark its problems in place. Learner workbooks are
    ' protected without a password, and Excel refuses formatting changes on a protected sheet
    ' from code, so their sheets are unprotected for the run and protected again afterwards with
    ' the same options, whatever happens.
    Dim failure As String

    If Not HaveWorkbook("Open a learner workbook, then click Validate.") Then Exit Sub
    On Error GoTo Failed
    UnprotectSheets ActiveWorkbook
    RunPython "import tracker.addin.excel as t; t.validate()"

Cleanup:
    On Error Resume Next
    ReprotectSheets
    If failure <> "" Then
        MsgBox "Validate stopped: " & failure, vbCritical, TITLE
    End If
    Exit Sub

Failed:
    failure = Err.Description
    If failure = "" Then failure = "error " & Err.Number
    Resume Cleanup
End Sub


Public Sub TrackerRollup(control As IRibbonControl)
    ' Roll the learner workbooks of the centre folder up into the centre's master workbook.
    If Not HaveWorkbook("Open a workbook of the centre folder, then click Roll up.") Then Exit Sub
    RunPython "import tracker.addin.excel as t; t.rollup()"
End Sub


Public Sub TrackerNewWorkbook(control As IRibbonControl)
    ' Create a new learner workbook.
    If Not HaveWorkbook("Open a workbook of the centre folder, then click New learner workbook.") Then Exit Sub
    RunPython "import tracker.addin.excel as t; t.new_workbook()"
End Sub


Public Sub TrackerOpenCentreFolder(control As IRibbonControl)
    ' Open the centre folder of the active workbook in Explorer or the Finder.
    If Not HaveWorkbook("Open a workbook of the centre folder, then click Open centre folder.") Then Exit Sub
    RunPython "import tracker.addin.excel as t; t.open_centre_folder()"
End Sub


Private Function HaveWorkbook(hint As String) As Boolean
    ' xlwings' RunPython needs an active workbook (it passes its path to Python).
    HaveWorkbook = Not (ActiveWorkbook Is Nothing)
    If Not HaveWorkbook Then MsgBox hint, vbExclamation, TITLE
End Function


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
