/* Register page: a search box above the unit select (plain ES5). Without JavaScript the
   select, grouped by district, works as it is; with it, typing part of a unit's name keeps
   only the matching units in the list. */
(function () {
  'use strict';
  var select = document.querySelector('select[data-unit-filter]');
  if (!select) { return; }
  var groups = [];  // [{label, options: [[value, text]]}] as the server rendered them
  var first = select.options.length && select.options[0].value === '' ? select.options[0].text : null;
  var nodes = select.children;
  for (var i = 0; i < nodes.length; i++) {
    if (nodes[i].tagName === 'OPTGROUP') {
      var group = {label: nodes[i].label, options: []};
      for (var j = 0; j < nodes[i].children.length; j++) {
        group.options.push([nodes[i].children[j].value, nodes[i].children[j].text]);
      }
      groups.push(group);
    }
  }
  var box = document.createElement('input');
  box.type = 'search';
  box.id = 'unit-filter';
  box.className = 'unit-filter';
  box.placeholder = '输入单位名称查找';
  box.setAttribute('aria-label', '查找工作单位或学校');
  box.setAttribute('aria-controls', select.id);
  select.parentNode.insertBefore(box, select);

  function rebuild() {
    var words = box.value.replace(/^\s+|\s+$/g, '');
    var chosen = select.value;
    while (select.firstChild) { select.removeChild(select.firstChild); }
    if (first !== null) { select.appendChild(new Option(first, '')); }
    for (var g = 0; g < groups.length; g++) {
      var element = document.createElement('optgroup');
      element.label = groups[g].label;
      for (var o = 0; o < groups[g].options.length; o++) {
        var item = groups[g].options[o];
        if (!words || item[1].indexOf(words) !== -1 || item[0] === chosen) {
          element.appendChild(new Option(item[1], item[0], false, item[0] === chosen));
        }
      }
      if (element.children.length) { select.appendChild(element); }
    }
  }
  box.addEventListener('input', rebuild);
}());
