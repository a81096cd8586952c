// Small behaviours the server-rendered pages need; htmx does the rest.
(function () {
  "use strict";

  // A lookup picker: choosing an option fills the hidden id and the visible name.
  document.addEventListener("click", function (event) {
    var option = event.target.closest("button.option");
    if (!option) return;
    var picker = option.closest(".lookup");
    picker.querySelector("[data-lookup-value]").value = option.dataset.id;
    var search = picker.querySelector("[data-lookup-search]");
    search.value = option.dataset.label;
    picker.querySelector(".options").innerHTML = "";
    search.focus();
    search.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // Clearing a lookup's text clears its id too.
  document.addEventListener("input", function (event) {
    var search = event.target.closest("[data-lookup-search]");
    if (search && search.value === "") {
      search.closest(".lookup").querySelector("[data-lookup-value]").value = "";
    }
  });

  // Tabs on the detail page, usable with the keyboard (arrow keys move between tabs).
  function selectTab(tab) {
    var list = tab.closest("[role=tablist]");
    list.querySelectorAll("[role=tab]").forEach(function (other) {
      var selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    });
    tab.focus();
  }
  document.addEventListener("click", function (event) {
    var tab = event.target.closest("[data-tab]");
    if (tab) selectTab(tab);
  });
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest("[data-tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    var tabs = Array.prototype.slice.call(tab.closest("[role=tablist]").querySelectorAll("[role=tab]"));
    var next = tabs[(tabs.indexOf(tab) + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
    selectTab(next);
    event.preventDefault();
  });
  // Bar charts of the home page's widgets (their numbers are also in a table beside them).
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.Chart) return;
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var data = JSON.parse(canvas.dataset.chart);
      new window.Chart(canvas, {
        type: "bar",
        data: {labels: data.labels, datasets: data.series.map(function (s) {
          return {label: s.label, data: s.values, backgroundColor: data.colors};
        })},
        options: {plugins: {legend: {display: false}}, animation: false}
      });
    });
  });
})();

// Kanban: drag a card onto another column; the drop posts the same form its menu does.
(function () {
  "use strict";
  var dragged = null;
  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".board .card");
    if (!card) return;
    dragged = card;
    event.dataTransfer.setData("text/plain", card.dataset.id);
    event.dataTransfer.effectAllowed = "move";
  });
  document.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".board .column");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.add("drop-target");
  });
  document.addEventListener("dragleave", function (event) {
    var column = event.target.closest && event.target.closest(".board .column");
    if (column) column.classList.remove("drop-target");
  });
  document.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".board .column");
    if (!column || !dragged) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    var select = dragged.querySelector("select[name=value]");
    dragged = null;
    if (!select || select.value === column.dataset.value) return;
    select.value = column.dataset.value;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  });
})();

// The list's selection: "select all on this page" ticks every row; unticking a row unticks it.
document.addEventListener("change", function (event) {
  var box = event.target;
  var form = box.closest && box.closest("form[data-mass]");
  if (!form) return;
  if (box.matches("[data-select-all]")) {
    form.querySelectorAll("[data-select-row]").forEach(function (row) { row.checked = box.checked; });
  } else if (box.matches("[data-select-row]") && !box.checked) {
    var all = form.querySelector("[data-select-all]");
    if (all) all.checked = false;
  }
});

// A form with data-confirm asks before it is sent; a control with data-autosubmit sends its form when changed.
// (In this file rather than in inline handlers: the pages' Content-Security-Policy runs no inline script.)
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
document.addEventListener("change", function (event) {
  var control = event.target;
  if (control.matches && control.matches("[data-autosubmit]") && control.form) control.form.submit();
});

// The record page: a field's value opens its input when clicked (its pencil link does it with the keyboard),
// Escape closes the input without saving, and a form that htmx just put on the page gets the focus.
document.addEventListener("click", function (event) {
  var value = event.target.closest && event.target.closest("[data-inline-value]");
  if (!value || event.target.closest("a")) return;
  var pencil = value.parentElement.querySelector("[data-inline-pencil]");
  if (pencil) pencil.click();
});
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape") return;
  var form = event.target.closest && event.target.closest("form[data-inline-edit]");
  if (!form) return;
  var cancel = form.querySelector("[data-inline-cancel]");
  if (cancel) { event.preventDefault(); cancel.click(); }
});
document.addEventListener("htmx:load", function (event) {
  var root = event.detail && event.detail.elt;
  if (!root || !root.querySelector) return;
  var form = root.matches("dd.editing") ? root.querySelector("form") : root.querySelector("form[data-composer]");
  if (!form) return;
  var first = form.querySelector("input:not([type=hidden]):not([readonly]), select, textarea");
  if (first) first.focus();
});
// After a field is saved the whole record is drawn again: the focus goes back to that field's pencil.
document.addEventListener("htmx:afterSettle", function () {
  var pencil = document.querySelector("[data-inline-pencil][autofocus]");
  if (pencil && (document.activeElement === document.body || !document.activeElement)) pencil.focus();
});
