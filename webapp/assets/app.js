// Reviewer wellbeing: confirmed-abusive text stays blurred until clicked.
document.querySelectorAll(".blur").forEach(function (box) {
  box.addEventListener("click", function () { box.classList.remove("blur"); });
});
// Queue shortcuts: j / n next, k previous, x select, c confirm (a form, pre-filled with the
// classifier's category, target and severity), d dismiss, o or Enter open.
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr.queue-row"));
  if (!rows.length) { return; }
  var at = 0;
  var dialog = document.getElementById("confirm-dialog");
  var picks = rows.map(function (r) { return r.querySelector("input.pick"); });
  function show(i) {
    rows[at].classList.remove("current");
    at = Math.max(0, Math.min(rows.length - 1, i));
    rows[at].classList.add("current");
    rows[at].scrollIntoView({block: "nearest"});
  }
  function remember(i) { window.sessionStorage.setItem("tagwatch-queue-at", String(i)); }
  // After a decision the queue reloads without that case: stay at the same place in it.
  var kept = parseInt(window.sessionStorage.getItem("tagwatch-queue-at") || "0", 10);
  window.sessionStorage.removeItem("tagwatch-queue-at");
  show(isNaN(kept) ? 0 : kept);

  // The confirm form: the row's suggestion copied in, the analyst changes what is wrong.
  function openConfirm(i) {
    var source = rows[i].querySelector("form.confirm");
    if (!dialog || !source) { return; }
    var form = document.getElementById("confirm-form");
    form.action = source.action;
    ["category", "target_role", "severity"].forEach(function (name) {
      form.elements[name].value = source.elements[name].value;
    });
    form.elements.note.value = "";
    document.getElementById("confirm-case").textContent = rows[i].getAttribute("data-case");
    remember(i);
    dialog.showModal();
    document.getElementById("confirm-submit").focus();
  }
  if (dialog) {
    document.getElementById("confirm-cancel").addEventListener("click", function () { dialog.close(); });
  }
  rows.forEach(function (r, i) {
    r.querySelectorAll("form").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (f.classList.contains("confirm") && dialog) { e.preventDefault(); show(i); openConfirm(i); return; }
        remember(i);
      });
    });
  });

  // Selection for bulk decisions: shift-click selects the range from the last box clicked.
  var count = document.getElementById("selected-count");
  var last = null;
  function counted() {
    if (count) { count.textContent = String(picks.filter(function (p) { return p && p.checked; }).length); }
  }
  picks.forEach(function (box, i) {
    if (!box) { return; }
    box.addEventListener("click", function (e) {
      if (e.shiftKey && last !== null) {
        for (var j = Math.min(last, i); j <= Math.max(last, i); j++) { picks[j].checked = box.checked; }
      }
      last = i;
      counted();
    });
  });
  var all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", function () {
      picks.forEach(function (p) { if (p) { p.checked = all.checked; } });
      counted();
    });
  }
  var bulk = document.getElementById("bulk");
  if (bulk) {
    bulk.addEventListener("submit", function () {
      var first = picks.findIndex(function (p) { return p && p.checked; });
      remember(first < 0 ? at : first);
    });
  }
  counted();

  document.addEventListener("keydown", function (e) {
    if ((dialog && dialog.open) || e.target.closest("textarea, select, input:not([type=checkbox])")) { return; }
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var row = rows[at];
    if (e.key === "j" || e.key === "n") { show(at + 1); }
    else if (e.key === "k") { show(at - 1); }
    else if (e.key === "x" && picks[at]) { picks[at].checked = !picks[at].checked; last = at; counted(); }
    else if (e.key === "c" && row.querySelector("form.confirm")) { openConfirm(at); }
    else if (e.key === "d" && row.querySelector("form.dismiss")) {
      remember(at);
      row.querySelector("form.dismiss").submit();
    }
    else if (e.key === "o" || e.key === "Enter") { window.location = row.querySelector("a.open").href; }
    else { return; }
    e.preventDefault();
  });
})();
