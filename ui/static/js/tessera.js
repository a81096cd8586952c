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

// The top bar's search box: Ctrl/Cmd-K focuses it from anywhere; its suggestions (an htmx fragment, a listbox
// grouped by object) are chosen with the arrow keys and opened with Enter; Escape closes them. Enter with no
// suggestion chosen sends the form: the full results page.
(function () {
  "use strict";
  function box() { return document.getElementById("top-search"); }
  function panel() { return document.getElementById("top-search-results"); }
  function options() { return Array.prototype.slice.call(panel().querySelectorAll("[role=option]")); }
  function active() { return panel().querySelector("[role=option].active"); }

  function choose(option) {
    options().forEach(function (other) {
      var chosen = other === option;
      other.classList.toggle("active", chosen);
      other.setAttribute("aria-selected", chosen ? "true" : "false");
    });
    if (option) {
      box().setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({block: "nearest"});
    } else {
      box().removeAttribute("aria-activedescendant");
    }
  }
  function close() {
    var results = panel();
    if (!results) return;
    results.hidden = true;
    box().setAttribute("aria-expanded", "false");
    choose(null);
  }
  function open() {
    var results = panel();
    results.hidden = results.innerHTML.trim() === "";
    box().setAttribute("aria-expanded", results.hidden || !options().length ? "false" : "true");
    choose(null);
  }

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && !event.altKey && (event.key === "k" || event.key === "K") && box()) {
      event.preventDefault();
      box().focus();
      box().select();
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "top-search-results") open();
  });
  document.addEventListener("input", function (event) {
    if (event.target.id === "top-search" && event.target.value.trim() === "") {
      panel().innerHTML = "";
      close();
    }
  });
  document.addEventListener("keydown", function (event) {
    if (event.target.id !== "top-search") return;
    var list = options(), current = active(), index = list.indexOf(current);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (panel().hidden || !list.length) return;
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      choose(list[(index + step + list.length + (index < 0 && step < 0 ? 1 : 0)) % list.length]);
    } else if (event.key === "Enter" && current && !panel().hidden) {
      event.preventDefault();
      window.location.assign(current.dataset.href);
    } else if (event.key === "Escape" && !panel().hidden) {
      event.preventDefault();
      close();
    }
  });
  document.addEventListener("click", function (event) {
    var option = event.target.closest && event.target.closest("#top-search-results [role=option]");
    if (option) {
      window.location.assign(option.dataset.href);
    } else if (panel() && !(event.target.closest && event.target.closest("[data-top-search]"))) {
      close();
    }
  });
})();
